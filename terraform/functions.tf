# The two Rust Lambdas (zips from `cargo xtask build`), their triggers and the thumbnail
# function's failure path. The thumbnail function's other trigger, the table's stream (the
# clean-up of deleted images and accounts), is in cleanup.tf.

locals {
  # Both functions: the typed config, the bucket and the catalog table. The API function also
  # serves the page how to sign in (auth.tf) and knows the edge's origin secret (api.tf).
  function_environment = merge(var.function_environment, {
    THUMBFORGE_BUCKET = aws_s3_bucket.media.id
    THUMBFORGE_TABLE  = aws_dynamodb_table.images.name
  })
  presign_environment = merge(local.function_environment, local.auth_environment, {
    THUMBFORGE_ORIGIN_SECRET = local.origin_secret
  })
  # The thumbnail function deletes a deleted account's Cognito user (AdminDeleteUser) with
  # provider = "cognito" only: an "oidc" provider's users are not the stack's to delete, and the
  # variable is absent (thumbforge_core::env::USER_POOL_ID).
  #
  # With a watermark, its hash too (watermark.tf): read by no code, it changes with the image,
  # so that a new PNG replaces every execution environment (each reads it at cold start), and it
  # orders the upload before the function.
  thumbnail_environment = merge(local.function_environment, local.cognito ? {
    THUMBFORGE_USER_POOL_ID = one(aws_cognito_user_pool.users[*].id)
    } : {}, local.watermark ? {
    THUMBFORGE_WATERMARK_SHA256 = one(aws_s3_object.watermark[*].source_hash)
  } : {})
}

module "presign" {
  source = "./modules/rust-lambda"

  name                 = "${local.name}-presign"
  description          = "thumbforge API: pre-signed uploads, image status and listing"
  zip                  = local.presign_zip
  memory_mb            = var.presign_memory_mb
  timeout_seconds      = var.presign_timeout_seconds
  environment          = local.presign_environment
  log_retention_days   = var.log_retention_days
  reserved_concurrency = null
  policy_statements    = local.presign_statements
  tracing              = var.alarms.xray
}

# A cap on what a flood of uploads can cost at once, everywhere but in a dev environment (where
# an account new enough to have no concurrency to reserve is likely).
locals {
  thumbnail_reserved_concurrency = var.environment == "dev" || var.thumbnail_reserved_concurrency == 0 ? null : var.thumbnail_reserved_concurrency
}

module "thumbnail" {
  source = "./modules/rust-lambda"

  name                 = "${local.name}-thumbnail"
  description          = "thumbforge thumbnails: raw/ uploads to thumbs/ renditions, the outcome in the table"
  zip                  = local.thumbnail_zip
  memory_mb            = var.thumbnail_memory_mb
  timeout_seconds      = var.thumbnail_timeout_seconds
  environment          = local.thumbnail_environment
  log_retention_days   = var.log_retention_days
  reserved_concurrency = local.thumbnail_reserved_concurrency
  policy_statements    = local.thumbnail_statements
  tracing              = var.alarms.xray
}

# S3 may invoke the thumbnail function, for this bucket of this account only.
resource "aws_lambda_permission" "s3_invokes_thumbnail" {
  statement_id   = "AllowS3Invoke"
  action         = "lambda:InvokeFunction"
  function_name  = module.thumbnail.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.media.arn
  source_account = local.account_id
}

# Events still failing after the retries, or too old, land here (encrypted).
resource "aws_sqs_queue" "thumbnail_dlq" {
  name                      = "${local.name}-thumbnail-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_function_event_invoke_config" "thumbnail" {
  function_name                = module.thumbnail.function_name
  maximum_retry_attempts       = var.thumbnail_max_retries
  maximum_event_age_in_seconds = var.thumbnail_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.thumbnail_dlq.arn
    }
  }
}
