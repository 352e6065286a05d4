# The image catalog: one DynamoDB table, every item inside its owner's partition (crates/catalog,
# whose `schema` module names the keys, the TTL attribute and the stream view checked here by
# xtask's tests).

resource "aws_dynamodb_table" "images" {
  # checkov:skip=CKV_AWS_119: Encrypted with the AWS-managed key (aws/dynamodb): every use is in CloudTrail and no key policy is needed; a customer-managed key adds a monthly fee and a key policy for no stated need.
  name         = "${local.name}-images"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  # Pending images carry expiresAt (epoch seconds): an upload never made goes away by itself.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  # Every change, with the item before and after (a removed image's clean-up reads the old one).
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  # Restores to any second of the last 35 days.
  point_in_time_recovery {
    enabled = true
  }

  # Without a key ARN: the AWS-managed KMS key aws/dynamodb rather than the AWS-owned default,
  # so that the key's use is auditable (CloudTrail) at only KMS's request price.
  server_side_encryption {
    enabled = true
  }

  # The catalog: set table_deletion_protection = true in production.
  deletion_protection_enabled = var.table_deletion_protection
}
