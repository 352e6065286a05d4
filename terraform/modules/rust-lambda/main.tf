# One Rust Lambda on Amazon Linux 2023 / Graviton: its role (least privilege, logs to its own
# group only), its log group with retention, the function.
#
# Policies are built with jsonencode rather than aws_iam_policy_document so that `terraform test`
# can assert on them under a mocked provider.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

resource "aws_iam_role" "this" {
  name        = var.name
  description = "Execution role of ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

# Created here, before the function, so that it has a retention and the role needs no
# logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338: Retention is `logs.retention_days` of thumbforge.toml (14 days by default); raise it there where a year is required.
  # checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts at rest by default; a customer key adds cost and a key policy for no stated need.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

locals {
  statements = concat(
    [{
      Sid      = "OwnLogsOnly"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
    }],
    [for s in var.policy_statements : { Sid = s.sid, Effect = "Allow", Action = s.actions, Resource = s.resources }],
    # X-Ray's write actions have no resource-level permissions: "*" is the only resource.
    var.tracing ? [{
      Sid      = "XRayTraces"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      Resource = ["*"]
    }] : [],
  )
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.statements })
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116: Failed asynchronous events go to an on-failure destination instead (the encrypted SQS queue of functions.tf); the presign function is invoked synchronously, where a DLQ never applies.
  # checkov:skip=CKV_AWS_117: The functions reach only S3 and CloudWatch on public AWS endpoints; a VPC would add NAT or endpoint costs and cold-start time.
  # checkov:skip=CKV_AWS_173: The environment holds only the non-secret THUMBFORGE_* settings; Lambda encrypts it at rest with an AWS-managed key.
  # checkov:skip=CKV_AWS_272: Zips are built reproducibly and deployed with their hash by Terraform; code signing needs AWS Signer profiles.
  # checkov:skip=CKV_AWS_50: X-Ray is opt-in (alarms.xray of thumbforge.toml; var.tracing): it is billed per trace, and the functions' JSON logs and metrics cover the stages.
  function_name = var.name
  description   = var.description
  role          = aws_iam_role.this.arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"
  filename      = var.zip
  # Without the zip (a clone that never ran `cargo xtask build`), `destroy` must still plan;
  # an apply then fails on the missing file, naming it.
  source_code_hash = fileexists(var.zip) ? filebase64sha256(var.zip) : null
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  # The group must exist first (retention), and the role must be able to write to it.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
