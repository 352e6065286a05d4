# One CloudFront distribution: the page (site bucket), the thumbnails (media bucket, thumbs/) and
# the API (API Gateway), all on one origin, so the page needs no CORS and the CSP can say 'self'.

locals {
  # AWS-managed policies, by their documented, fixed ids (the same in every account).
  managed_cache_policy = {
    caching_optimized = "658327ea-f89d-4fab-a63d-7e88639e58f6" # honours the origin's Cache-Control (TTL 1 s to a year, a day without one)
    caching_disabled  = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  }
  managed_origin_request_policy = {
    all_viewer_except_host_header = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
  }

  site_origin   = "site"
  thumbs_origin = "media-thumbs"
  api_origin    = "api"

  # cloudfront/viewer-request.js: index.html for folder paths and WebP/JPEG negotiation of
  # /thumbs/{id}/{width}. moto 5.2.5 lacks PublishFunction and drops FunctionAssociations;
  # xtask/moto/serve.py adds both, so the function is deployed against moto too.
  viewer_request_js = "${path.module}/../cloudfront/viewer-request.js"
  viewer_request    = true
  # Deployed with its NEGOTIATED line listing the formats the thumbnail function writes, so an
  # extension-less thumbnail URL never names a format that was not written.
  viewer_request_negotiated_line = "/(?m)^const NEGOTIATED = .*;$/"
  viewer_request_code = replace(
    file(local.viewer_request_js),
    local.viewer_request_negotiated_line,
    "const NEGOTIATED = ${jsonencode(var.negotiated_formats)};"
  )
  # Security headers (thumbforge_core::web). Left out against an emulator (no policies in moto).
  response_headers = !local.emulated
  response_headers_policy_id = {
    for key in ["site", "thumbs"] : key => local.response_headers ? aws_cloudfront_response_headers_policy.security[key].id : null
  }
  # /thumbs/*: a cache policy of our own, capped at thumbnail_cache_seconds. moto 5.2.5 has no
  # cache policy API (CreateCachePolicy and the rest are not routed), so against an emulator the
  # behaviour keeps the managed CachingOptimized policy, which honours the same max-age.
  thumbs_cache_policy = !local.emulated
  thumbs_cache_policy_id = (
    local.thumbs_cache_policy ? aws_cloudfront_cache_policy.thumbs[0].id : local.managed_cache_policy.caching_optimized
  )
}

resource "aws_cloudfront_origin_access_control" "s3" {
  name                              = "${local.name}-s3"
  description                       = "CloudFront reads the thumbforge buckets (SigV4)"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_function" "viewer_request" {
  count = local.viewer_request ? 1 : 0

  name    = "${local.name}-viewer-request"
  comment = "index.html for folders; the best written format for /thumbs/{id}/{width}"
  runtime = "cloudfront-js-2.0"
  code    = local.viewer_request_code
  publish = true

  lifecycle {
    precondition {
      condition     = length(regexall(trim(local.viewer_request_negotiated_line, "/"), file(local.viewer_request_js))) == 1
      error_message = "cloudfront/viewer-request.js must hold exactly one `const NEGOTIATED = …;` line for Terraform to fill in."
    }
  }
}

# Two policies with the same security headers: the page's and the API's, and the thumbnails',
# which add Cross-Origin-Resource-Policy and Vary: Accept (security_headers.thumbs).
resource "aws_cloudfront_response_headers_policy" "security" {
  # checkov:skip=CKV_AWS_259: HSTS is set (two years, includeSubDomains, from thumbforge_core::web through a variable checkov cannot read); no preload, as the site runs on a cloudfront.net name the project does not own.
  for_each = local.response_headers ? {
    site   = var.security_headers.custom
    thumbs = merge(var.security_headers.custom, var.security_headers.thumbs)
  } : {}

  name    = "${local.name}-${each.key == "site" ? "security-headers" : "thumbs-headers"}"
  comment = "thumbforge security headers (thumbforge_core::web)${each.key == "thumbs" ? ", and the renditions' own" : ""}"

  custom_headers_config {
    dynamic "items" {
      for_each = each.value
      content {
        header   = items.key
        value    = items.value
        override = true
      }
    }
  }

  security_headers_config {
    content_security_policy {
      content_security_policy = replace(replace(var.security_headers.csp_template, "{upload_origin}", local.upload_origin), "{identity_origin}", local.identity_origin)
      override                = true
    }
    strict_transport_security {
      access_control_max_age_sec = var.security_headers.hsts_max_age_seconds
      include_subdomains         = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = var.security_headers.frame_options
      override     = true
    }
    referrer_policy {
      referrer_policy = var.security_headers.referrer_policy
      override        = true
    }
  }
}

# The policy was one (count) before the thumbnails had their own.
moved {
  from = aws_cloudfront_response_headers_policy.security[0]
  to   = aws_cloudfront_response_headers_policy.security["site"]
}

# The thumbnails' cache key and lifetime at the edge. The key is the URI alone: the viewer-request
# function has already turned /thumbs/{id}/{width} into .webp or .jpg by Accept before the cache
# is looked up, so each format has a key of its own without Accept (or any other header, cookie or
# query string) in it. No Accept-Encoding either: the renditions are JPEG and WebP, never
# compressed (the behaviour's compress is off). min_ttl 0 lets a shorter origin max-age win;
# max_ttl caps a longer one, such as the `max-age=31536000, immutable` of renditions written
# before thumbnails.cache_seconds existed; default_ttl covers an object without Cache-Control.
resource "aws_cloudfront_cache_policy" "thumbs" {
  count = local.thumbs_cache_policy ? 1 : 0

  name        = "${local.name}-thumbs"
  comment     = "thumbforge renditions: the URI is the key, at most thumbnail_cache_seconds at the edge"
  min_ttl     = 0
  default_ttl = var.thumbnail_cache_seconds
  max_ttl     = var.thumbnail_cache_seconds

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false

    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  # checkov:skip=CKV_AWS_68: The WAF is opt-in (edge.waf, waf.tf; about 8 USD a month): the API is throttled per route and per user, and every upload is bounded by its signed URL.
  # checkov:skip=CKV2_AWS_47: With edge.waf the known-bad-inputs group (its Log4j rules) is on (waf.tf); checkov cannot see a conditional web ACL. Nothing here runs Java.
  # checkov:skip=CKV_AWS_86: Standard logging v2 (log delivery to CloudWatch Logs, observability.tf) is on by default; checkov knows only the legacy logging_config, which needs an ACL-enabled bucket.
  # checkov:skip=CKV_AWS_174: The default *.cloudfront.net certificate is used (no custom domain); CloudFront fixes its protocols.
  # checkov:skip=CKV2_AWS_42: No custom domain, hence no custom certificate.
  # checkov:skip=CKV_AWS_310: One origin per path; failover would need replicated buckets (see CKV_AWS_144).
  # checkov:skip=CKV_AWS_374: A public image service: no country is excluded.
  enabled             = true
  comment             = "thumbforge ${var.environment}"
  default_root_object = "index.html"
  price_class         = var.price_class
  web_acl_id          = var.edge.waf ? aws_wafv2_web_acl.edge[0].arn : null
  http_version        = "http2and3"
  is_ipv6_enabled     = true

  origin {
    origin_id                = local.site_origin
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.s3.id
  }

  origin {
    origin_id                = local.thumbs_origin
    domain_name              = aws_s3_bucket.media.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.s3.id
  }

  origin {
    origin_id   = local.api_origin
    domain_name = replace(aws_apigatewayv2_api.this.api_endpoint, "/^https?://([^/]*).*/", "$1")

    # Replaces a header of that name a viewer sent; the function checks it (api.tf).
    custom_header {
      name  = var.origin_secret_header
      value = local.origin_secret
    }

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  # The page.
  default_cache_behavior {
    target_origin_id           = local.site_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.managed_cache_policy.caching_optimized
    response_headers_policy_id = local.response_headers_policy_id.site

    dynamic "function_association" {
      for_each = aws_cloudfront_function.viewer_request
      content {
        event_type   = "viewer-request"
        function_arn = function_association.value.arn
      }
    }
  }

  # Thumbnails. Each rendition carries `Cache-Control: public, max-age=<thumbnail_cache_seconds>`
  # (thumbnails.cache_seconds; never `immutable`), and the cache policy above keeps none at the
  # edge longer than thumbnail_cache_seconds, whatever max-age the object was stored with: the
  # bound on a deleted photo's thumbnail still being served by CloudFront. A browser keeps a
  # rendition for the max-age it was served with (CloudFront passes Cache-Control through), so a
  # rendition written before cache_seconds existed (`max-age=31536000, immutable`) stays in the
  # browsers that already fetched it. Against an emulator the managed CachingOptimized policy
  # (it honours the origin's max-age, up to a year) stands in, as moto has no cache policy API.
  ordered_cache_behavior {
    path_pattern               = "/thumbs/*"
    target_origin_id           = local.thumbs_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = false
    cache_policy_id            = local.thumbs_cache_policy_id
    response_headers_policy_id = local.response_headers_policy_id.thumbs

    dynamic "function_association" {
      for_each = aws_cloudfront_function.viewer_request
      content {
        event_type   = "viewer-request"
        function_arn = function_association.value.arn
      }
    }
  }

  # The API: never cached, every method, every viewer header but Host.
  ordered_cache_behavior {
    path_pattern               = "/api/*"
    target_origin_id           = local.api_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.managed_cache_policy.caching_disabled
    origin_request_policy_id   = local.managed_origin_request_policy.all_viewer_except_host_header
    response_headers_policy_id = local.response_headers_policy_id.site
  }

  # Negative caching: a thumbnail asked for a moment too early must not stay missing for long.
  # A 5xx (an API or origin failure) is never cached: CloudFront would otherwise keep it 10 s,
  # so a retry would get the same failure without reaching the API.
  dynamic "custom_error_response" {
    for_each = merge(
      { for code in [403, 404] : code => var.error_caching_seconds },
      { for code in [500, 502, 503, 504] : code => 0 },
    )
    content {
      error_code            = tonumber(custom_error_response.key)
      error_caching_min_ttl = custom_error_response.value
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
