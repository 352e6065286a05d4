output "site_url" {
  description = "The page."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}/"
}

output "api_url" {
  description = "The API, through CloudFront (the page's origin)."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}/api"
}

output "distribution_id" {
  description = "CloudFront distribution id (for invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "media_bucket" {
  description = "Uploads (raw/) and thumbnails (thumbs/)."
  value       = aws_s3_bucket.media.id
}

output "site_bucket" {
  description = "The page's files."
  value       = aws_s3_bucket.site.id
}

output "upload_origin" {
  description = "The origin browsers upload to (CSP connect-src)."
  value       = local.upload_origin
}

output "presign_function" {
  description = "Name of the API function."
  value       = module.presign.function_name
}

output "thumbnail_function" {
  description = "Name of the thumbnail function."
  value       = module.thumbnail.function_name
}

output "dlq_url" {
  description = "Dead-letter queue of the thumbnail function's failed S3 events."
  value       = aws_sqs_queue.thumbnail_dlq.url
}

output "api_id" {
  description = "API Gateway HTTP API id."
  value       = aws_apigatewayv2_api.this.id
}

output "table_name" {
  description = "The image catalog (DynamoDB)."
  value       = aws_dynamodb_table.images.name
}

output "user_pool_id" {
  description = "The Cognito user pool; null with auth.provider = \"oidc\"."
  value       = one(aws_cognito_user_pool.users[*].id)
}

output "user_pool_issuer" {
  description = "The user pool's issuer (the tokens' iss, trusted by the authorizer); null with auth.provider = \"oidc\" (the authorizer then trusts auth.issuer)."
  value       = local.cognito ? local.auth_issuer : null
}

output "auth_domain" {
  description = "The hosted UI's host (sign-in pages, OAuth endpoints); null with auth.provider = \"oidc\"."
  value       = local.cognito ? local.auth_domain_host : null
}

output "auth_client_id" {
  description = "The page's OAuth client id (public: code + PKCE)."
  value       = local.auth_client_id
}

output "auth_authorize_url" {
  description = "Where the page sends the browser to sign in."
  value       = local.auth_authorize_url
}

output "auth_token_url" {
  description = "Where the page exchanges the code and refreshes tokens."
  value       = local.auth_token_url
}

output "auth_logout_url" {
  description = "Where signing out sends the browser (empty when the provider has none)."
  value       = local.auth_logout_url
}

output "cleanup_dlq_url" {
  description = "Dead-letter queue of the clean-up of deleted images (the table stream's failed batches)."
  value       = aws_sqs_queue.cleanup_dlq.url
}

output "cleanup_mapping_uuid" {
  description = "The clean-up's event source mapping (the table stream → the thumbnail function): `cargo xtask destroy` checks it is gone."
  value       = aws_lambda_event_source_mapping.cleanup.uuid
}

output "alarm_topic_arn" {
  description = "The SNS topic every alarm publishes to (subscribe more than alarms.emails here: chat, paging)."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of the stack (README: Operating it)."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}
