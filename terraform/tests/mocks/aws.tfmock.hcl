# The mocked AWS provider's values, shared by every tests/*.tftest.hcl (`mock_provider "aws" { source = "./tests/mocks" }`).

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    arn                         = "arn:aws:s3:::thumbforge-test-bucket"
    bucket_regional_domain_name = "thumbforge-test-bucket.s3.eu-west-3.amazonaws.com"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/thumbforge-test-role"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:eu-west-3:123456789012:log-group:/aws/lambda/test"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn        = "arn:aws:lambda:eu-west-3:123456789012:function:thumbforge-test-function"
    invoke_arn = "arn:aws:apigateway:eu-west-3:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-3:123456789012:function:thumbforge-test-function/invocations"
  }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:eu-west-3:123456789012:thumbforge-test-thumbnail-dlq"
  }
}

mock_resource "aws_apigatewayv2_api" {
  defaults = {
    api_endpoint  = "https://abc123.execute-api.eu-west-3.amazonaws.com"
    execution_arn = "arn:aws:execute-api:eu-west-3:123456789012:abc123"
  }
}

mock_resource "aws_cloudfront_distribution" {
  defaults = {
    arn         = "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"
    domain_name = "d111111abcdef8.cloudfront.net"
  }
}

mock_resource "aws_cloudfront_function" {
  defaults = {
    arn = "arn:aws:cloudfront::123456789012:function/thumbforge-test-viewer-request"
  }
}

mock_resource "aws_cognito_user_pool" {
  defaults = {
    id       = "eu-west-3_TestPool1"
    arn      = "arn:aws:cognito-idp:eu-west-3:123456789012:userpool/eu-west-3_TestPool1"
    endpoint = "cognito-idp.eu-west-3.amazonaws.com/eu-west-3_TestPool1"
  }
}

mock_resource "aws_cognito_user_pool_client" {
  defaults = {
    id = "testclient0123456789abcdef"
  }
}

mock_resource "aws_apigatewayv2_authorizer" {
  defaults = {
    id = "jwt123"
  }
}

mock_resource "aws_dynamodb_table" {
  defaults = {
    arn        = "arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images"
    stream_arn = "arn:aws:dynamodb:eu-west-3:123456789012:table/thumbforge-test-images/stream/2026-01-01T00:00:00.000"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    arn = "arn:aws:sns:eu-west-3:123456789012:thumbforge-test-alarms"
  }
}

mock_resource "aws_wafv2_web_acl" {
  defaults = {
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/thumbforge-test-edge/a1b2c3"
  }
}

mock_resource "aws_cloudwatch_log_delivery_destination" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:delivery-destination:thumbforge-test-cdn"
  }
}
