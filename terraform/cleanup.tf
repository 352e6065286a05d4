# The durable clean-up of deleted images and accounts. `DELETE /api/images/{id}` removes only the
# image's item, and DynamoDB's TTL removes a pending upload that never arrived; either way the
# table's stream (data.tf, NEW_AND_OLD_IMAGES) carries the removed item here, to the thumbnail
# function, which deletes every version of raw/{id}.* and thumbs/{id}/* and, for a TTL removal,
# subtracts the image from its owner's profile (lambdas/thumbnail/src/cleanup.rs).
# `DELETE /api/account` writes only a tombstone (sk = "DELETED", status "deleting") in the
# user's partition; the same mapping carries it to the same function, which deletes the user's
# objects, every item of the partition and, with Cognito, the user
# (lambdas/thumbnail/src/account.rs). Their grants are in iam.tf.

# Records still failing after the retries, or older than the stream lets Lambda retry, land here
# (encrypted): each message describes the failed batch (shard, sequence numbers), not the item.
resource "aws_sqs_queue" "cleanup_dlq" {
  name                      = "${local.name}-cleanup-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_event_source_mapping" "cleanup" {
  event_source_arn = aws_dynamodb_table.images.stream_arn
  function_name    = module.thumbnail.function_name
  # From the oldest record the stream still holds (a day): removals made before the mapping
  # existed are cleaned up too.
  starting_position = "TRIM_HORIZON"

  batch_size                    = var.cleanup.batch_size
  maximum_retry_attempts        = var.cleanup.max_retries
  maximum_record_age_in_seconds = var.cleanup.max_record_age_seconds
  # A failing batch is split in two before each retry, and the function names the first record
  # it could not clean up (batchItemFailures), so one bad record never holds back the others.
  bisect_batch_on_function_error = true
  function_response_types        = ["ReportBatchItemFailures"]

  # Removed image items (thumbforge_catalog::schema::REMOVED_IMAGES_FILTER) and an account's
  # tombstone while it is deleting (ACCOUNT_DELETION_FILTER), one filter per pattern of the
  # variable: Lambda invokes the function for a record any filter matches (the provider keeps
  # them as a set: their order means nothing), and every other change to the table never invokes
  # it, and costs nothing.
  filter_criteria {
    dynamic "filter" {
      for_each = var.cleanup.filter_patterns
      content {
        pattern = filter.value
      }
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.cleanup_dlq.arn
    }
  }

  # Lambda checks at creation that the function's role may read the stream (and send to the
  # queue): the role's policy (modules/rust-lambda) must be in place first.
  depends_on = [module.thumbnail]
}
