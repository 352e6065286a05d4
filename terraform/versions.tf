# Terraform and provider versions. The lock file (.terraform.lock.hcl) is committed; refresh it with
# `terraform providers lock -platform=linux_amd64 -platform=linux_arm64 -platform=darwin_arm64`.
terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State: local by default, one workspace per environment (`cargo xtask deploy --env NAME`).
  # For a team, keep it in S3 instead (see README, "Deploying to AWS"): uncomment, then
  # `terraform init -migrate-state`.
  #
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "thumbforge/terraform.tfstate"
  #   region       = "us-east-1"
  #   use_lockfile = true
  #   encrypt      = true
  # }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.default_tags
  }

  # `cargo xtask deploy --endpoint URL`: every AWS API at an emulator (moto) instead of AWS.
  s3_use_path_style           = local.emulated
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint] : []
    content {
      apigatewayv2   = endpoints.value
      budgets        = endpoints.value
      cloudfront     = endpoints.value
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      cognitoidp     = endpoints.value
      dynamodb       = endpoints.value
      iam            = endpoints.value
      lambda         = endpoints.value
      s3             = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      sts            = endpoints.value
      wafv2          = endpoints.value
    }
  }
}

# What CloudFront's companions must have in us-east-1 whatever var.region is: the WAF web ACL
# (scope CLOUDFRONT, waf.tf) and the distribution's log delivery (observability.tf).
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.default_tags
  }

  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint] : []
    content {
      cloudwatchlogs = endpoints.value
      sts            = endpoints.value
      wafv2          = endpoints.value
    }
  }
}
