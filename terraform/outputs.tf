output "site_url" {
  description = "The page."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}/"
}

output "api_url" {
  description = "The API, through CloudFront (the page's origin)."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}/api"
}

output "api_gateway_url" {
  description = "The API Gateway endpoint itself (bypasses CloudFront)."
  value       = aws_apigatewayv2_api.this.api_endpoint
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
  description = "Dead-letter queue of the thumbnail function."
  value       = aws_sqs_queue.thumbnail_dlq.url
}

output "api_id" {
  description = "API Gateway HTTP API id."
  value       = aws_apigatewayv2_api.this.id
}
