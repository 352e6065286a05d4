# What each function may do, besides writing its own log group (modules/rust-lambda).
#
# Both roles get s3:ListBucket on the media bucket without a prefix condition: S3 answers a read of
# a missing key with 404 only to a caller allowed to list the bucket, and with 403 otherwise. Both
# functions read keys that may not exist (presign: the status of a pending image; thumbnail: an
# upload deleted before its event arrives), so a conditioned grant, which the implicit check does
# not satisfy, would turn "missing" into a storage error. Listing reveals only key names of the
# same bucket both may read anyway.

locals {
  media_arn = aws_s3_bucket.media.arn
  table_arn = aws_dynamodb_table.images.arn

  presign_statements = [
    {
      sid       = "CreateUploads"
      actions   = ["s3:PutObject"]
      resources = ["${local.media_arn}/${local.raw_prefix}*"]
    },
    {
      sid       = "ReadUploadsAndManifests"
      actions   = ["s3:GetObject"]
      resources = ["${local.media_arn}/${local.raw_prefix}*", "${local.media_arn}/${local.thumbs_prefix}*"]
    },
    {
      sid       = "ListImages"
      actions   = ["s3:ListBucket"]
      resources = [local.media_arn]
    },
    {
      # The catalog: create (a transaction: the image and the profile's counts), read, list,
      # finish and delete the caller's items. TransactWriteItems is authorised per item, by
      # PutItem, UpdateItem, DeleteItem and ConditionCheckItem. The table only: it has no index.
      sid       = "Catalog"
      actions   = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      resources = [local.table_arn]
    },
  ]

  thumbnail_statements = [
    {
      # HeadObject (the owner metadata) and GetObject of the upload.
      sid       = "ReadUploads"
      actions   = ["s3:GetObject"]
      resources = ["${local.media_arn}/${local.raw_prefix}*"]
    },
    {
      sid       = "WriteThumbnails"
      actions   = ["s3:PutObject"]
      resources = ["${local.media_arn}/${local.thumbs_prefix}*"]
    },
    {
      # An image whose item is gone (deleted before or while it was processed): its renditions,
      # then its upload, are deleted so nothing is left behind. DeleteObject without a version
      # id (the current version) only; never s3:DeleteObjectVersion.
      sid       = "RemoveDeletedImages"
      actions   = ["s3:DeleteObject"]
      resources = ["${local.media_arn}/${local.raw_prefix}*", "${local.media_arn}/${local.thumbs_prefix}*"]
    },
    {
      # A HeadObject of an upload deleted before its event arrives needs 404 (see above).
      sid       = "KnowMissingKeys"
      actions   = ["s3:ListBucket"]
      resources = [local.media_arn]
    },
    {
      # The catalog: record an image's outcome (a conditional update) and read it back.
      sid       = "RecordResults"
      actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = [local.table_arn]
    },
    {
      # Lambda delivers failed asynchronous events to the on-failure destination with this role.
      sid       = "DeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.thumbnail_dlq.arn]
    },
  ]
}
