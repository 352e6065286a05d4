# The image catalog (data.tf) and the functions' access to it (iam.tf, functions.tf) under a mocked
# AWS provider: `terraform test -filter=tests/data.tftest.hcl` from terraform/ (cargo xtask test runs
# every file). The real provider against moto: `cargo xtask moto` (xtask/src/moto.rs).

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

# The variables come from tests/terraform.tfvars, shared by every file of tests/ (each run's own
# `variables` block overrides them).

run "one_on_demand_table_keyed_by_owner_and_item" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.images.name == "thumbforge-test-images" && output.table_name == "thumbforge-test-images"
    error_message = "the table is thumbforge-<env>-images"
  }
  assert {
    condition     = aws_dynamodb_table.images.billing_mode == "PAY_PER_REQUEST"
    error_message = "on-demand capacity"
  }
  assert {
    condition     = aws_dynamodb_table.images.hash_key == "pk" && aws_dynamodb_table.images.range_key == "sk"
    error_message = "partition key pk, sort key sk"
  }
  assert {
    condition     = toset([for a in aws_dynamodb_table.images.attribute : "${a.name}:${a.type}"]) == toset(["pk:S", "sk:S"])
    error_message = "both keys are strings, and no other attribute is declared (no index)"
  }
  assert {
    condition     = length(aws_dynamodb_table.images.global_secondary_index) == 0 && length(aws_dynamodb_table.images.local_secondary_index) == 0
    error_message = "no index: every access is inside the caller's partition"
  }
}

run "the_table_keeps_its_history_encrypted_and_expires_pending_items" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.images.point_in_time_recovery[0].enabled
    error_message = "point-in-time recovery is on"
  }
  assert {
    condition     = aws_dynamodb_table.images.server_side_encryption[0].enabled
    error_message = "encrypted with a KMS key (the AWS-managed one: data.tf names none)"
  }
  assert {
    condition     = aws_dynamodb_table.images.ttl[0].enabled && aws_dynamodb_table.images.ttl[0].attribute_name == "expiresAt"
    error_message = "items expire at their expiresAt"
  }
  assert {
    condition     = aws_dynamodb_table.images.stream_enabled && aws_dynamodb_table.images.stream_view_type == "NEW_AND_OLD_IMAGES"
    error_message = "a stream with the old and the new item"
  }
  assert {
    condition     = aws_dynamodb_table.images.deletion_protection_enabled == false
    error_message = "no deletion protection unless asked (so that destroy works)"
  }
}

run "production_protects_the_table_from_deletion" {
  command = apply

  variables {
    table_deletion_protection = true
  }

  assert {
    condition     = aws_dynamodb_table.images.deletion_protection_enabled
    error_message = "table_deletion_protection = true turns deletion protection on"
  }
}

run "both_functions_know_the_table" {
  command = apply

  assert {
    condition     = local.function_environment["THUMBFORGE_TABLE"] == aws_dynamodb_table.images.name && local.presign_environment["THUMBFORGE_TABLE"] == aws_dynamodb_table.images.name
    error_message = "THUMBFORGE_TABLE names the table for both functions"
  }
}

run "each_function_may_do_what_it_needs_on_this_table_only" {
  command = apply

  assert {
    condition     = toset(flatten([for s in module.presign.policy_statements : [for a in s.Action : a if startswith(a, "dynamodb:")]])) == toset(["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"])
    error_message = "presign: read (also in batches: the tag and album listings), list, create, finish and delete items (transactions included), nothing else"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : [for a in s.Action : a if startswith(a, "dynamodb:")]])) == toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"])
    error_message = "thumbnail: read and update items, put the TTL settlement's marker, list and delete a deleted account's items, read the table's stream; nothing else"
  }
  assert {
    condition     = toset(flatten([for s in module.presign.policy_statements : s.Resource if anytrue([for a in s.Action : startswith(a, "dynamodb:")])])) == toset(["arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images"])
    error_message = "presign's DynamoDB actions name this table's ARN only (no index, no stream, no wildcard)"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if anytrue([for a in s.Action : contains(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:Query"], a)])])) == toset(["arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images"])
    error_message = "thumbnail's item actions name this table's ARN only (no index, no wildcard)"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if anytrue([for a in s.Action : contains(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], a)])])) == toset([aws_dynamodb_table.images.stream_arn])
    error_message = "thumbnail's stream reads name this table's stream only"
  }
  assert {
    condition     = alltrue([for m in [module.presign, module.thumbnail] : alltrue([for s in m.policy_statements : alltrue([for a in s.Action : startswith(a, "dynamodb:")]) if anytrue([for a in s.Action : startswith(a, "dynamodb:")])])])
    error_message = "the table's statements grant nothing but DynamoDB actions"
  }
}
