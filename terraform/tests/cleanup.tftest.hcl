# The clean-up of deleted images and accounts (cleanup.tf, its grants in iam.tf, the thumbnail
# function's user pool in functions.tf) and the variables it takes
# from thumbforge.toml under a mocked AWS provider: `terraform test -filter=tests/cleanup.tftest.hcl`
# from terraform/ (cargo xtask test runs every file). The real provider against moto: `cargo xtask
# moto` (xtask/src/moto.rs), which reads the mapping back.

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

# Both queues would otherwise share the mock's one ARN, and a mapping pointing at the wrong queue
# would pass.
override_resource {
  target = aws_sqs_queue.cleanup_dlq
  values = {
    arn = "arn:aws:sqs:eu-west-3:123456789012:thumbforge-test-cleanup-dlq"
    url = "https://sqs.eu-west-3.amazonaws.com/123456789012/thumbforge-test-cleanup-dlq"
  }
}

# The variables come from tests/terraform.tfvars, shared by every file of tests/ (each run's own
# `variables` block overrides them).

run "the_table_stream_drives_the_cleanup_of_removed_images" {
  command = apply

  # Other than the defaults, so that each setting is seen to come from its variable.
  variables {
    cleanup = {
      batch_size             = 25
      max_retries            = 3
      max_record_age_seconds = 3600
      filter_patterns        = ["{\"eventName\":[\"REMOVE\"],\"dynamodb\":{\"Keys\":{\"sk\":{\"S\":[{\"prefix\":\"IMAGE#\"}]}}}}", "{\"eventName\":[\"INSERT\",\"MODIFY\"],\"dynamodb\":{\"Keys\":{\"sk\":{\"S\":[\"DELETED\"]}},\"NewImage\":{\"status\":{\"S\":[\"deleting\"]}}}}"]
    }
  }

  assert {
    condition     = aws_lambda_event_source_mapping.cleanup.event_source_arn == aws_dynamodb_table.images.stream_arn
    error_message = "the mapping reads the table's stream"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.cleanup.function_name == module.thumbnail.function_name
    error_message = "the mapping invokes the thumbnail function"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.cleanup.starting_position == "TRIM_HORIZON"
    error_message = "the mapping starts from the oldest record the stream holds"
  }
  # The provider keeps a mapping's filters as a set (Lambda ORs them, so their order means
  # nothing): both patterns of the variable, each once, and no other.
  assert {
    condition     = length(aws_lambda_event_source_mapping.cleanup.filter_criteria[0].filter) == 2 && toset([for f in aws_lambda_event_source_mapping.cleanup.filter_criteria[0].filter : f.pattern]) == toset(var.cleanup.filter_patterns)
    error_message = "two filters: the patterns of the cleanup variable (REMOVED_IMAGES_FILTER, ACCOUNT_DELETION_FILTER)"
  }
  assert {
    condition     = length([for f in aws_lambda_event_source_mapping.cleanup.filter_criteria[0].filter : f if jsondecode(f.pattern).eventName == ["REMOVE"] && jsondecode(f.pattern).dynamodb.Keys.sk.S == [{ prefix = "IMAGE#" }]]) == 1
    error_message = "one filter lets the removals of image items through, and only them"
  }
  assert {
    condition     = length([for f in aws_lambda_event_source_mapping.cleanup.filter_criteria[0].filter : f if try(jsondecode(f.pattern).eventName == ["INSERT", "MODIFY"] && jsondecode(f.pattern).dynamodb.Keys.sk.S == ["DELETED"] && jsondecode(f.pattern).dynamodb.NewImage.status.S == ["deleting"], false)]) == 1
    error_message = "the other lets through an account's tombstone, written or changed, while it is deleting"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.cleanup.bisect_batch_on_function_error
    error_message = "a failing batch is split before it is retried"
  }
  assert {
    condition     = toset(aws_lambda_event_source_mapping.cleanup.function_response_types) == toset(["ReportBatchItemFailures"])
    error_message = "the function reports the first record it could not clean up"
  }
  assert {
    condition = (
      aws_lambda_event_source_mapping.cleanup.batch_size == 25
      && aws_lambda_event_source_mapping.cleanup.maximum_retry_attempts == 3
      && aws_lambda_event_source_mapping.cleanup.maximum_record_age_in_seconds == 3600
    )
    error_message = "batch size, retries and record age come from the cleanup variable"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.cleanup.destination_config[0].on_failure[0].destination_arn == aws_sqs_queue.cleanup_dlq.arn
    error_message = "records still failing go to the clean-up dead-letter queue"
  }
  assert {
    condition     = aws_sqs_queue.cleanup_dlq.arn != aws_sqs_queue.thumbnail_dlq.arn && aws_sqs_queue.cleanup_dlq.name == "thumbforge-test-cleanup-dlq"
    error_message = "the clean-up has a queue of its own, thumbforge-<env>-cleanup-dlq"
  }
  assert {
    condition     = aws_sqs_queue.cleanup_dlq.sqs_managed_sse_enabled && aws_sqs_queue.cleanup_dlq.message_retention_seconds == var.dlq_retention_seconds
    error_message = "the clean-up dead-letter queue is encrypted and keeps messages dlq_retention_seconds"
  }
  assert {
    condition     = output.cleanup_dlq_url == aws_sqs_queue.cleanup_dlq.url
    error_message = "the queue's URL is an output"
  }
  assert {
    condition     = output.cleanup_mapping_uuid == aws_lambda_event_source_mapping.cleanup.uuid
    error_message = "the mapping's UUID is an output (cargo xtask destroy checks that it is gone)"
  }
}

run "the_thumbnail_role_may_clean_up_deleted_images_and_no_more" {
  command = apply

  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "s3:DeleteObjectVersion")])) == toset(["arn:aws:s3:::thumbforge-test-bucket/raw/*", "arn:aws:s3:::thumbforge-test-bucket/thumbs/*"])
    error_message = "thumbnail may delete object versions under raw/ and thumbs/ only"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "s3:ListBucketVersions")])) == toset(["arn:aws:s3:::thumbforge-test-bucket"])
    error_message = "thumbnail may list the versions of the media bucket only"
  }
  assert {
    condition     = alltrue([for s in module.presign.policy_statements : !contains(s.Action, "s3:DeleteObjectVersion") && !contains(s.Action, "s3:ListBucketVersions") && !contains(s.Action, "s3:DeleteObject")])
    error_message = "the API function deletes no object (the clean-up does, from the stream)"
  }
  assert {
    condition     = alltrue([for a in ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"] : toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, a)])) == toset(["arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images/stream/2026-01-01T00:00:00.000"])])
    error_message = "thumbnail may read the table's stream, no other"
  }
  assert {
    condition     = [for s in module.thumbnail.policy_statements : join(" ", s.Action) if contains(s.Resource, "*")] == ["dynamodb:ListStreams"]
    error_message = "the one grant on \"*\" is ListStreams, alone (it has no resource type)"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "dynamodb:PutItem")])) == toset(["arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images"])
    error_message = "thumbnail may put items (the TTL settlement's marker) in this table only"
  }
  assert {
    condition     = contains(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "sqs:SendMessage")]), aws_sqs_queue.cleanup_dlq.arn)
    error_message = "Lambda sends failed batches to the clean-up dead-letter queue with the function's role"
  }
  assert {
    condition     = alltrue([for s in module.presign.policy_statements : alltrue([for a in s.Action : !contains(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"], a)])])
    error_message = "the API function does not read the stream"
  }
}

# A deleted account (the tombstone on the same mapping): the thumbnail function lists and deletes
# the user's items and, with Cognito, deletes the user from the stack's pool.
run "the_thumbnail_function_deletes_a_deleted_accounts_items_and_user" {
  command = apply

  assert {
    condition     = local.thumbnail_environment["THUMBFORGE_USER_POOL_ID"] == "eu-west-3_TestPool1" && local.thumbnail_environment["THUMBFORGE_USER_POOL_ID"] == aws_cognito_user_pool.users[0].id
    error_message = "with cognito, the thumbnail function gets THUMBFORGE_USER_POOL_ID, the stack's pool"
  }
  assert {
    condition     = !contains(keys(local.presign_environment), "THUMBFORGE_USER_POOL_ID")
    error_message = "the API function deletes no user: it does not get the pool's id"
  }
  assert {
    condition     = [for s in module.thumbnail.policy_statements : "${s.Sid}: ${join(" ", s.Action)} on ${join(" ", s.Resource)}" if anytrue([for a in s.Action : startswith(a, "cognito-idp:")])] == ["DeleteDeletedAccountsUsers: cognito-idp:AdminDeleteUser on arn:aws:cognito-idp:eu-west-3:123456789012:userpool/eu-west-3_TestPool1"]
    error_message = "thumbnail: one Cognito statement, DeleteDeletedAccountsUsers, AdminDeleteUser on the stack's pool only"
  }
  assert {
    condition     = alltrue([for s in module.presign.policy_statements : alltrue([for a in s.Action : !startswith(a, "cognito-idp:")])])
    error_message = "the API function has no Cognito grant"
  }
  assert {
    condition     = [for s in module.thumbnail.policy_statements : "${join(" ", sort(s.Action))} on ${join(" ", s.Resource)}" if s.Sid == "DeleteAccounts"] == ["dynamodb:BatchGetItem dynamodb:BatchWriteItem dynamodb:ConditionCheckItem dynamodb:DeleteItem dynamodb:Query on arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images"]
    error_message = "thumbnail: DeleteAccounts lists (Query, BatchGetItem) and deletes (DeleteItem and ConditionCheckItem in transactions, BatchWriteItem) items of this table only"
  }
}

run "with_oidc_no_user_is_deleted_and_no_pool_named" {
  command = apply

  variables {
    auth = merge(var.auth, {
      provider      = "oidc"
      issuer        = "https://example.eu.auth0.com"
      audience      = ["abc123"]
      authorize_url = "https://example.eu.auth0.com/authorize"
      token_url     = "https://login.example.com/oauth/token"
    })
  }

  assert {
    condition     = !contains(keys(local.thumbnail_environment), "THUMBFORGE_USER_POOL_ID") && local.thumbnail_environment["THUMBFORGE_TABLE"] == aws_dynamodb_table.images.name
    error_message = "with oidc, the thumbnail function gets no THUMBFORGE_USER_POOL_ID (the provider's users are not the stack's)"
  }
  assert {
    condition     = alltrue([for m in [module.presign, module.thumbnail] : alltrue([for s in m.policy_statements : alltrue([for a in s.Action : !startswith(a, "cognito-idp:")])])])
    error_message = "with oidc, no role has a Cognito grant"
  }
  assert {
    condition     = length([for s in module.thumbnail.policy_statements : s if s.Sid == "DeleteAccounts"]) == 1
    error_message = "with oidc, the thumbnail function still deletes a deleted account's items"
  }
}

# Every validation block of cleanup and thumbnail_cache_seconds has a failing case.

run "rejects_an_empty_cleanup_batch" {
  command = plan
  variables {
    cleanup = { batch_size = 0, max_retries = 10, max_record_age_seconds = 86400, filter_patterns = var.cleanup.filter_patterns }
  }
  expect_failures = [var.cleanup]
}

run "rejects_a_cleanup_batch_over_1000" {
  command = plan
  variables {
    cleanup = { batch_size = 1001, max_retries = 10, max_record_age_seconds = 86400, filter_patterns = var.cleanup.filter_patterns }
  }
  expect_failures = [var.cleanup]
}

run "rejects_negative_cleanup_retries" {
  command = plan
  variables {
    cleanup = { batch_size = 10, max_retries = -1, max_record_age_seconds = 86400, filter_patterns = var.cleanup.filter_patterns }
  }
  expect_failures = [var.cleanup]
}

run "rejects_cleanup_retries_over_10000" {
  command = plan
  variables {
    cleanup = { batch_size = 10, max_retries = 10001, max_record_age_seconds = 86400, filter_patterns = var.cleanup.filter_patterns }
  }
  expect_failures = [var.cleanup]
}

run "rejects_a_cleanup_record_age_under_a_minute" {
  command = plan
  variables {
    cleanup = { batch_size = 10, max_retries = 10, max_record_age_seconds = 59, filter_patterns = var.cleanup.filter_patterns }
  }
  expect_failures = [var.cleanup]
}

run "rejects_a_cleanup_record_age_over_a_day" {
  command = plan
  variables {
    cleanup = { batch_size = 10, max_retries = 10, max_record_age_seconds = 86401, filter_patterns = var.cleanup.filter_patterns }
  }
  expect_failures = [var.cleanup]
}

run "rejects_no_cleanup_filter" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = [] })
  }
  expect_failures = [var.cleanup]
}

run "rejects_more_than_five_cleanup_filters" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = concat(var.cleanup.filter_patterns, ["{\"eventName\":[\"MODIFY\"]}", "{\"eventName\":[\"MODIFY\"]}", "{\"eventName\":[\"MODIFY\"]}", "{\"eventName\":[\"MODIFY\"]}"]) })
  }
  expect_failures = [var.cleanup]
}

# A pattern that is not JSON: the tombstone's, cut short.
run "rejects_a_cleanup_filter_that_is_not_json" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = [var.cleanup.filter_patterns[0], "{\"eventName\":[\"INSERT\",\"MODIFY\"],\"dynamodb\":"] })
  }
  expect_failures = [var.cleanup]
}

run "rejects_a_cleanup_filter_that_lets_inserts_through" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = ["{\"eventName\":[\"INSERT\",\"REMOVE\"],\"dynamodb\":{\"Keys\":{\"sk\":{\"S\":[{\"prefix\":\"IMAGE#\"}]}}}}", var.cleanup.filter_patterns[1]] })
  }
  expect_failures = [var.cleanup]
}

run "rejects_cleanup_filters_without_the_removed_images" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = [var.cleanup.filter_patterns[1]] })
  }
  expect_failures = [var.cleanup]
}

# The filter of the variable before accounts could be deleted: deleted accounts would never be.
run "rejects_cleanup_filters_without_the_account_deletions" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = [var.cleanup.filter_patterns[0]] })
  }
  expect_failures = [var.cleanup]
}

# The tombstone once deleted (status "deleted") must not invoke the function again.
run "rejects_an_account_filter_that_lets_finished_deletions_through" {
  command = plan
  variables {
    cleanup = merge(var.cleanup, { filter_patterns = [var.cleanup.filter_patterns[0], "{\"eventName\":[\"INSERT\",\"MODIFY\"],\"dynamodb\":{\"Keys\":{\"sk\":{\"S\":[\"DELETED\"]}}}}"] })
  }
  expect_failures = [var.cleanup]
}

run "rejects_a_rendition_cache_under_a_minute" {
  command = plan
  variables {
    thumbnail_cache_seconds = 59
    function_environment    = { THUMBFORGE_CACHE_SECONDS = "59" }
  }
  expect_failures = [var.thumbnail_cache_seconds]
}

run "rejects_a_rendition_cache_over_a_day" {
  command = plan
  variables {
    thumbnail_cache_seconds = 86401
    function_environment    = { THUMBFORGE_CACHE_SECONDS = "86401" }
  }
  expect_failures = [var.thumbnail_cache_seconds]
}

run "rejects_a_rendition_cache_that_disagrees_with_the_environment" {
  command = plan
  variables { thumbnail_cache_seconds = 600 }
  expect_failures = [var.thumbnail_cache_seconds]
}
