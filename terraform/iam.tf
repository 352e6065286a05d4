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
      # raw/: also what the pre-signed GET of an original (GET /api/images/{id}/content?size=original)
      # is allowed by, as a pre-signed URL carries the signer's permissions.
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
      # edit and delete the caller's images, tags and albums, and write the tombstone that
      # deletes the account (DELETE /api/account; the thumbnail function does the rest). The
      # tag and album listings read their images with BatchGetItem. TransactWriteItems is
      # authorised per item, by PutItem, UpdateItem, DeleteItem and ConditionCheckItem. The table
      # only: it has no index.
      sid       = "Catalog"
      actions   = ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
      resources = [local.table_arn]
    },
  ]

  # The thumbnail role: the common statements whatever the provider, and with Cognito the
  # deletion of a deleted account's user.
  thumbnail_statements = concat(
    local.thumbnail_common_statements,
    local.cognito ? local.thumbnail_cognito_statements : [],
    local.watermark ? local.thumbnail_watermark_statements : [],
  )

  thumbnail_common_statements = [
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
      # An image whose item is gone. Deleted before or while it was processed (the S3 event):
      # its renditions, then its upload, with DeleteObject (the current version). Deleted
      # through the API, expired, or with its account (the table's stream, cleanup.tf): every
      # version and delete marker of both, for good (DeleteObjects with version ids, authorised
      # per object as s3:DeleteObjectVersion). Under raw/ and thumbs/ only.
      sid       = "RemoveDeletedImages"
      actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
      resources = ["${local.media_arn}/${local.raw_prefix}*", "${local.media_arn}/${local.thumbs_prefix}*"]
    },
    {
      # A HeadObject of an upload deleted before its event arrives needs 404 (see above).
      sid       = "KnowMissingKeys"
      actions   = ["s3:ListBucket"]
      resources = [local.media_arn]
    },
    {
      # The clean-up finds a deleted image's versions with ListObjectVersions (prefixes
      # thumbs/{id}/ and raw/{id}.); it reveals only the key names and version ids of the
      # bucket the role may already list.
      sid       = "FindDeletedImagesVersions"
      actions   = ["s3:ListBucketVersions"]
      resources = [local.media_arn]
    },
    {
      # The catalog: record an image's outcome (a conditional update) and read it back; settle
      # an expired upload in its owner's profile once (a transaction: Put of a marker item, on
      # condition it is new, and an Update of the PROFILE item, authorised per item as PutItem
      # and UpdateItem).
      sid       = "RecordResults"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [local.table_arn]
    },
    {
      # A deleted account (its tombstone comes on the table's stream, cleanup.tf): list the
      # user's partition (Query, and BatchGetItem for the images its other items name), delete
      # each image with its tag and album entries and its share of the profile in a transaction
      # (authorised per item: DeleteItem, ConditionCheckItem, and RecordResults' UpdateItem),
      # then every other item in batches (BatchWriteItem), and mark the tombstone deleted
      # (UpdateItem). The table only; the partition comes from the tombstone's key, never from a
      # request (IAM cannot narrow a grant to the partition of a record).
      sid       = "DeleteAccounts"
      actions   = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:Query"]
      resources = [local.table_arn]
    },
    {
      # Lambda's event source mapping (cleanup.tf) polls the table's stream with this role.
      sid       = "ReadTheTableStream"
      actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
      resources = [aws_dynamodb_table.images.stream_arn]
    },
    {
      # Lambda's documented stream permissions include ListStreams, which has no resource type
      # (the Service Authorization Reference): a grant on the stream's ARN never matches it, so
      # "*", as in the AWSLambdaDynamoDBExecutionRole managed policy. It lists stream ARNs, no data.
      sid       = "ListTheTableStreams"
      actions   = ["dynamodb:ListStreams"]
      resources = ["*"]
    },
    {
      # Lambda delivers failed asynchronous events (functions.tf) and the descriptions of failed
      # stream batches (cleanup.tf) to their on-failure destinations with this role.
      sid       = "DeadLetters"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.thumbnail_dlq.arn, aws_sqs_queue.cleanup_dlq.arn]
    },
  ]

  thumbnail_watermark_statements = [
    {
      # The watermark PNG (watermark.tf), read once per cold start: that one key.
      sid       = "ReadTheWatermark"
      actions   = ["s3:GetObject"]
      resources = ["${local.media_arn}/${local.watermark_key}"]
    },
  ]

  thumbnail_cognito_statements = [
    {
      # A deleted account's user, last, so that they cannot sign in again (AdminDeleteUser,
      # THUMBFORGE_USER_POOL_ID in functions.tf). The stack's own pool only; with provider =
      # "oidc" there is no pool, the users are not the stack's, and no grant.
      sid       = "DeleteDeletedAccountsUsers"
      actions   = ["cognito-idp:AdminDeleteUser"]
      resources = [one(aws_cognito_user_pool.users[*].arn)]
    },
  ]
}
