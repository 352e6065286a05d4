# Plan-level checks of the whole stack under a mocked AWS provider (no account, no network):
# `terraform test` from terraform/ (cargo xtask test runs it). The real provider against moto is
# exercised by `cargo xtask test` too (xtask/src/moto.rs).

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

# The variables come from tests/terraform.tfvars, shared by every file of tests/ (each run's own
# `variables` block overrides them).

run "uploads_under_raw_trigger_the_thumbnail_function" {
  command = apply

  assert {
    condition     = length(aws_s3_bucket_notification.media.lambda_function) == 1
    error_message = "exactly one Lambda notification"
  }
  assert {
    condition     = aws_s3_bucket_notification.media.lambda_function[0].filter_prefix == "raw/"
    error_message = "the notification must filter on raw/ (thumbs/ would loop)"
  }
  assert {
    condition     = aws_s3_bucket_notification.media.lambda_function[0].events == toset(["s3:ObjectCreated:*"])
    error_message = "the notification must fire on ObjectCreated:* only"
  }
  assert {
    condition     = aws_s3_bucket_notification.media.lambda_function[0].lambda_function_arn == module.thumbnail.function_arn
    error_message = "the notification must target the thumbnail function"
  }
  assert {
    condition     = aws_lambda_permission.s3_invokes_thumbnail.source_arn == aws_s3_bucket.media.arn && aws_lambda_permission.s3_invokes_thumbnail.source_account == "123456789012"
    error_message = "S3 may invoke the thumbnail function for the media bucket of this account only"
  }
}

# `cargo xtask destroy` from a clone that never built the zips: the configuration must still
# plan (it failed in filebase64sha256 before).
# The bucket policy, not only the roles, decides who writes raw/ and thumbs/: any other
# principal of the account is denied, however broad its IAM policy.
run "only_the_functions_roles_write_uploads_and_thumbnails" {
  command = apply
  # A state of its own, so the roles are created here, with the overridden ARNs.
  state_key = "distinct_roles"

  override_resource {
    target = module.presign.aws_iam_role.this
    values = { arn = "arn:aws:iam::123456789012:role/thumbforge-test-presign" }
  }
  override_resource {
    target = module.thumbnail.aws_iam_role.this
    values = { arn = "arn:aws:iam::123456789012:role/thumbforge-test-thumbnail" }
  }

  assert {
    condition     = one([for s in local.bucket_policies.media.Statement : s if s.Sid == "DenyUploadsButThroughPresign"]).Resource == "arn:aws:s3:::thumbforge-test-bucket/raw/*"
    error_message = "writes to raw/ are denied..."
  }
  assert {
    condition     = one([for s in local.bucket_policies.media.Statement : s if s.Sid == "DenyUploadsButThroughPresign"]).Condition.ArnNotEquals["aws:PrincipalArn"] == "arn:aws:iam::123456789012:role/thumbforge-test-presign"
    error_message = "...to every principal but the presign role (whose pre-signed PUTs the users send)"
  }
  assert {
    condition     = one([for s in local.bucket_policies.media.Statement : s if s.Sid == "DenyThumbnailsButFromTheFunction"]).Resource == "arn:aws:s3:::thumbforge-test-bucket/thumbs/*"
    error_message = "writes to thumbs/ are denied..."
  }
  assert {
    condition     = one([for s in local.bucket_policies.media.Statement : s if s.Sid == "DenyThumbnailsButFromTheFunction"]).Condition.ArnNotEquals["aws:PrincipalArn"] == "arn:aws:iam::123456789012:role/thumbforge-test-thumbnail"
    error_message = "...to every principal but the thumbnail role"
  }
  assert {
    condition     = alltrue([for s in local.bucket_policies.media.Statement : s.Action == "s3:PutObject" && s.Effect == "Deny" && s.Principal == "*" if startswith(s.Sid, "Deny") && s.Sid != "DenyInsecureTransport"])
    error_message = "the denies cover PutObject only (the clean-up's deletes and CloudFront's reads stay)"
  }
  assert {
    condition     = length(local.bucket_policies.site.Statement) == 2
    error_message = "the site bucket has no write denies (Terraform uploads the page)"
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this["media"].policy).Statement == local.bucket_policies.media.Statement
    error_message = "the deployed policy is the one checked here"
  }
}

run "plans_without_the_zips" {
  command = plan

  variables {
    presign_zip   = "tests/fixtures/never-built.zip"
    thumbnail_zip = "tests/fixtures/never-built.zip"
  }

  assert {
    condition     = output.presign_function == "thumbforge-test-presign"
    error_message = "the stack plans without the zips"
  }
}

run "functions_are_arm64_al2023_with_the_typed_config" {
  command = apply

  assert {
    condition     = output.presign_function == "thumbforge-test-presign" && output.thumbnail_function == "thumbforge-test-thumbnail"
    error_message = "function names follow thumbforge-<env>-<function>"
  }
  assert {
    condition     = local.function_environment["THUMBFORGE_BUCKET"] == aws_s3_bucket.media.id && local.function_environment["THUMBFORGE_SIZES"] == "small=256,medium=1024"
    error_message = "the functions get the generated environment plus THUMBFORGE_BUCKET"
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.thumbnail.destination_config[0].on_failure[0].destination == aws_sqs_queue.thumbnail_dlq.arn
    error_message = "failed thumbnail events must go to the dead-letter queue"
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.thumbnail.maximum_retry_attempts == 2 && aws_lambda_function_event_invoke_config.thumbnail.maximum_event_age_in_seconds == 3600
    error_message = "async invoke config: 2 retries, 1 hour"
  }
  assert {
    condition     = aws_sqs_queue.thumbnail_dlq.sqs_managed_sse_enabled
    error_message = "the dead-letter queue must be encrypted"
  }
}

run "iam_is_least_privilege" {
  command = apply

  # Presign: create uploads under raw/ only; read raw/ and thumbs/ (manifests); list.
  assert {
    condition     = toset(flatten([for s in module.presign.policy_statements : s.Resource if contains(s.Action, "s3:PutObject")])) == toset(["arn:aws:s3:::thumbforge-test-bucket/raw/*"])
    error_message = "presign may write raw/* only"
  }
  assert {
    condition     = toset(flatten([for s in module.presign.policy_statements : s.Resource if contains(s.Action, "s3:GetObject")])) == toset(["arn:aws:s3:::thumbforge-test-bucket/raw/*", "arn:aws:s3:::thumbforge-test-bucket/thumbs/*"])
    error_message = "presign may read raw/* and thumbs/* only"
  }
  # Thumbnail: read raw/, write thumbs/, delete both (an image deleted meanwhile, or every version
  # of a deleted one: tests/cleanup.tftest.hcl), send to its two DLQs.
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "s3:PutObject")])) == toset(["arn:aws:s3:::thumbforge-test-bucket/thumbs/*"])
    error_message = "thumbnail may write thumbs/* only"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "s3:GetObject")])) == toset(["arn:aws:s3:::thumbforge-test-bucket/raw/*"])
    error_message = "thumbnail may read raw/* (uploads) only"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "s3:DeleteObject")])) == toset(["arn:aws:s3:::thumbforge-test-bucket/raw/*", "arn:aws:s3:::thumbforge-test-bucket/thumbs/*"])
    error_message = "thumbnail may delete raw/* and thumbs/* only"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : [for a in s.Action : a if startswith(a, "s3:")]])) == toset(["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:ListBucket", "s3:ListBucketVersions", "s3:PutObject"])
    error_message = "thumbnail may use no other S3 action"
  }
  assert {
    condition     = toset(flatten([for s in module.thumbnail.policy_statements : s.Resource if contains(s.Action, "sqs:SendMessage")])) == toset([aws_sqs_queue.thumbnail_dlq.arn, aws_sqs_queue.cleanup_dlq.arn])
    error_message = "thumbnail may send to its two dead-letter queues only"
  }
  # Both: logs to their own group only; nothing on "*" but dynamodb:ListStreams, which has no
  # resource type (its own statement: tests/cleanup.tftest.hcl); no wildcard actions.
  assert {
    condition     = alltrue([for s in concat(module.presign.policy_statements, module.thumbnail.policy_statements) : (!contains(s.Resource, "*") || join(" ", s.Action) == "dynamodb:ListStreams") && alltrue([for a in s.Action : !endswith(a, "*")])])
    error_message = "no statement may grant a wildcard action, nor a wildcard resource (but ListStreams alone)"
  }
  assert {
    condition     = alltrue([for m in [module.presign, module.thumbnail] : toset(flatten([for s in m.policy_statements : s.Resource if contains(s.Action, "logs:PutLogEvents")])) == toset(["arn:aws:logs:eu-west-3:123456789012:log-group:/aws/lambda/test:*"])])
    error_message = "each function may write to its own log group only"
  }
}

run "buckets_are_private_encrypted_and_tls_only" {
  command = apply

  assert {
    condition     = alltrue([for b in aws_s3_bucket_public_access_block.this : b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "both buckets block every kind of public access"
  }
  assert {
    condition     = alltrue([for o in aws_s3_bucket_ownership_controls.this : o.rule[0].object_ownership == "BucketOwnerEnforced"])
    error_message = "ACLs are disabled (BucketOwnerEnforced)"
  }
  assert {
    condition     = alltrue([for p in local.bucket_policies : p.Statement[0].Effect == "Deny" && p.Statement[0].Condition.Bool["aws:SecureTransport"] == "false"])
    error_message = "both bucket policies deny plain HTTP"
  }
  assert {
    condition     = local.bucket_policies.media.Statement[1].Resource == "arn:aws:s3:::thumbforge-test-bucket/thumbs/*"
    error_message = "CloudFront may read thumbs/ of the media bucket, not raw/"
  }
  assert {
    condition     = alltrue([for p in local.bucket_policies : p.Statement[1].Condition.StringEquals["AWS:SourceArn"] == aws_cloudfront_distribution.this.arn])
    error_message = "only this distribution may read through OAC"
  }
  assert {
    condition     = length(aws_s3_bucket_cors_configuration.media.cors_rule) == 2 && alltrue([for r in aws_s3_bucket_cors_configuration.media.cors_rule : r.allowed_origins == toset(["https://d111111abcdef8.cloudfront.net"])])
    error_message = "the media bucket accepts cross-origin requests from the site only"
  }
  assert {
    condition     = [for r in aws_s3_bucket_cors_configuration.media.cors_rule : r.allowed_methods if r.id == "upload"] == [toset(["PUT"])]
    error_message = "the media bucket accepts cross-origin PUTs (uploads) from the site"
  }
  assert {
    condition     = [for r in aws_s3_bucket_cors_configuration.media.cors_rule : r.allowed_methods if r.id == "download"] == [toset(["GET"])] && [for r in aws_s3_bucket_cors_configuration.media.cors_rule : r.expose_headers if r.id == "download"] == [toset(["Content-Disposition"])]
    error_message = "the page may fetch() an original's pre-signed GET from the site, and read its Content-Disposition"
  }
  assert {
    condition     = length([for r in aws_s3_bucket_lifecycle_configuration.media.rule : r if length(r.abort_incomplete_multipart_upload) > 0]) == 1
    error_message = "incomplete multipart uploads are aborted"
  }
  assert {
    condition     = length([for r in aws_s3_bucket_lifecycle_configuration.media.rule : r if r.id == "expire-raw-uploads"]) == 0
    error_message = "raw/ does not expire unless asked"
  }
  assert {
    condition     = aws_s3_object.site["index.html"].content_type == "text/html; charset=utf-8" && aws_s3_object.site["app.css"].cache_control == "public, max-age=300"
    error_message = "site files get their Content-Type and Cache-Control"
  }
}

run "raw_uploads_are_kept_by_default" {
  command = plan

  assert {
    condition     = length([for r in aws_s3_bucket_lifecycle_configuration.media.rule : r if r.id == "expire-raw-uploads"]) == 0
    error_message = "with raw_expiration_days = 0 no upload expires"
  }
}

run "raw_uploads_can_expire" {
  command = apply

  variables {
    raw_expiration_days = 7
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.media.rule : r.filter[0].prefix if r.id == "expire-raw-uploads"]) == "raw/"
    error_message = "the expiry rule applies to raw/ only"
  }
}

run "cloudfront_routes_page_thumbnails_and_api" {
  command = apply

  assert {
    condition     = aws_cloudfront_distribution.this.default_cache_behavior[0].target_origin_id == "site"
    error_message = "the default behaviour serves the site bucket"
  }
  assert {
    condition     = [for b in aws_cloudfront_distribution.this.ordered_cache_behavior : b.path_pattern] == ["/thumbs/*", "/api/*"]
    error_message = "ordered behaviours: /thumbs/* then /api/*"
  }
  assert {
    condition     = aws_cloudfront_distribution.this.ordered_cache_behavior[0].target_origin_id == "media-thumbs" && aws_cloudfront_distribution.this.ordered_cache_behavior[0].cache_policy_id == aws_cloudfront_cache_policy.thumbs[0].id
    error_message = "/thumbs/* serves the media bucket with the stack's own cache policy (the next run checks it)"
  }
  assert {
    condition     = aws_cloudfront_distribution.this.default_cache_behavior[0].cache_policy_id == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    error_message = "the page keeps the managed CachingOptimized policy (its files' own Cache-Control)"
  }
  assert {
    condition     = aws_cloudfront_distribution.this.ordered_cache_behavior[1].target_origin_id == "api" && aws_cloudfront_distribution.this.ordered_cache_behavior[1].cache_policy_id == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    error_message = "/api/* goes to API Gateway, uncached"
  }
  assert {
    condition     = length(aws_cloudfront_distribution.this.ordered_cache_behavior[1].allowed_methods) == 7 && aws_cloudfront_distribution.this.ordered_cache_behavior[1].origin_request_policy_id == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    error_message = "/api/* allows every method and forwards every viewer header but Host"
  }
  assert {
    condition     = alltrue([for o in aws_cloudfront_distribution.this.origin : o.origin_access_control_id == aws_cloudfront_origin_access_control.s3.id if o.origin_id != "api"])
    error_message = "both S3 origins are reached through OAC"
  }
  assert {
    condition     = one([for o in aws_cloudfront_distribution.this.origin : o.domain_name if o.origin_id == "api"]) == "abc123.execute-api.eu-west-3.amazonaws.com"
    error_message = "the API origin is the API Gateway host"
  }
  assert {
    condition     = alltrue([for e in aws_cloudfront_distribution.this.custom_error_response : e.error_caching_min_ttl == 5 if e.error_code < 500])
    error_message = "403 and 404 are cached briefly"
  }
  assert {
    condition     = aws_cloudfront_distribution.this.price_class == "PriceClass_100"
    error_message = "the default price class is the cheapest"
  }
}

# The edge keeps a rendition no longer than thumbnail_cache_seconds, even one stored with a longer
# max-age (an older version wrote `max-age=31536000, immutable`). Other than the default, so that
# the TTLs are seen to come from the variable.
run "the_edge_keeps_thumbnails_no_longer_than_thumbnail_cache_seconds" {
  command = apply

  variables {
    thumbnail_cache_seconds = 600
    function_environment = {
      THUMBFORGE_SIZES            = "small=256,medium=1024"
      THUMBFORGE_MAX_UPLOAD_BYTES = "26214400"
      THUMBFORGE_CACHE_SECONDS    = "600"
    }
  }

  assert {
    condition     = length(aws_cloudfront_cache_policy.thumbs) == 1 && aws_cloudfront_cache_policy.thumbs[0].name == "thumbforge-test-thumbs"
    error_message = "off an emulator, one cache policy for the thumbnails, thumbforge-<env>-thumbs"
  }
  assert {
    condition     = aws_cloudfront_distribution.this.ordered_cache_behavior[0].path_pattern == "/thumbs/*" && aws_cloudfront_distribution.this.ordered_cache_behavior[0].cache_policy_id == aws_cloudfront_cache_policy.thumbs[0].id
    error_message = "/thumbs/* uses the thumbnails' cache policy"
  }
  assert {
    condition = (
      aws_cloudfront_cache_policy.thumbs[0].min_ttl == 0
      && aws_cloudfront_cache_policy.thumbs[0].default_ttl == var.thumbnail_cache_seconds
      && aws_cloudfront_cache_policy.thumbs[0].max_ttl == var.thumbnail_cache_seconds
      && aws_cloudfront_cache_policy.thumbs[0].max_ttl == 600
    )
    error_message = "min TTL 0 (a shorter max-age wins), default and maximum TTL thumbnail_cache_seconds (a longer one is capped)"
  }
  assert {
    condition = (
      one(aws_cloudfront_cache_policy.thumbs[0].parameters_in_cache_key_and_forwarded_to_origin[0].cookies_config).cookie_behavior == "none"
      && one(aws_cloudfront_cache_policy.thumbs[0].parameters_in_cache_key_and_forwarded_to_origin[0].headers_config).header_behavior == "none"
      && one(aws_cloudfront_cache_policy.thumbs[0].parameters_in_cache_key_and_forwarded_to_origin[0].query_strings_config).query_string_behavior == "none"
    )
    error_message = "the URI alone is the key (the viewer-request function picks .webp or .jpg from Accept before the lookup): no cookie, header or query string"
  }
  assert {
    condition = (
      !aws_cloudfront_cache_policy.thumbs[0].parameters_in_cache_key_and_forwarded_to_origin[0].enable_accept_encoding_gzip
      && !aws_cloudfront_cache_policy.thumbs[0].parameters_in_cache_key_and_forwarded_to_origin[0].enable_accept_encoding_brotli
      && !aws_cloudfront_distribution.this.ordered_cache_behavior[0].compress
    )
    error_message = "images are never compressed: no Accept-Encoding in the key, no compression"
  }
}

run "every_answer_carries_the_security_headers" {
  command = apply

  assert {
    condition     = startswith(aws_cloudfront_response_headers_policy.security["site"].security_headers_config[0].content_security_policy[0].content_security_policy, "default-src 'none'; connect-src 'self' https://thumbforge-test-media-123456789012-eu-west-3.s3.eu-west-3.amazonaws.com https://")
    error_message = "the CSP lets the page upload to the media bucket's regional endpoint (tests/auth.tftest.hcl checks the identity origin after it)"
  }
  assert {
    condition     = aws_cloudfront_response_headers_policy.security["site"].security_headers_config[0].strict_transport_security[0].access_control_max_age_sec == 63072000
    error_message = "HSTS comes from the typed config"
  }
  assert {
    condition     = aws_cloudfront_response_headers_policy.security["site"].security_headers_config[0].frame_options[0].frame_option == "DENY"
    error_message = "frame options come from the typed config"
  }
  assert {
    condition     = tomap({ for i in aws_cloudfront_response_headers_policy.security["site"].custom_headers_config[0].items : i.header => i.value if i.override }) == tomap(var.security_headers.custom)
    error_message = "the page and the API get Cross-Origin-Opener-Policy and Permissions-Policy, overriding an origin's"
  }
  assert {
    condition     = tomap({ for i in aws_cloudfront_response_headers_policy.security["thumbs"].custom_headers_config[0].items : i.header => i.value }) == tomap(merge(var.security_headers.custom, { "cross-origin-resource-policy" = "same-origin", "vary" = "Accept" }))
    error_message = "the thumbnails add Cross-Origin-Resource-Policy and Vary: Accept (their format follows Accept)"
  }
  assert {
    condition     = aws_cloudfront_response_headers_policy.security["thumbs"].security_headers_config[0].content_security_policy[0].content_security_policy == aws_cloudfront_response_headers_policy.security["site"].security_headers_config[0].content_security_policy[0].content_security_policy
    error_message = "the thumbnails' policy carries the same security headers"
  }
  assert {
    condition     = tomap({ for e in aws_cloudfront_distribution.this.custom_error_response : tostring(e.error_code) => e.error_caching_min_ttl }) == tomap({ "403" = 5, "404" = 5, "500" = 0, "502" = 0, "503" = 0, "504" = 0 })
    error_message = "a 5xx is never cached at the edge; 403 and 404 briefly"
  }
}

run "each_behaviour_gets_its_headers_policy" {
  command   = apply
  state_key = "distinct_header_policies"

  override_resource {
    target = aws_cloudfront_response_headers_policy.security["site"]
    values = { id = "site-headers" }
  }
  override_resource {
    target = aws_cloudfront_response_headers_policy.security["thumbs"]
    values = { id = "thumbs-headers" }
  }

  assert {
    condition = (
      aws_cloudfront_distribution.this.default_cache_behavior[0].response_headers_policy_id == "site-headers"
      && tomap({ for b in aws_cloudfront_distribution.this.ordered_cache_behavior : b.path_pattern => b.response_headers_policy_id }) == tomap({ "/thumbs/*" = "thumbs-headers", "/api/*" = "site-headers" })
    )
    error_message = "every behaviour adds the security headers; /thumbs/* the thumbnails' policy"
  }
  assert {
    condition     = aws_cloudfront_function.viewer_request[0].runtime == "cloudfront-js-2.0" && aws_cloudfront_function.viewer_request[0].publish
    error_message = "the viewer-request function is published on cloudfront-js-2.0"
  }
  assert {
    condition     = aws_cloudfront_function.viewer_request[0].code == file("${path.module}/../cloudfront/viewer-request.js")
    error_message = "with the committed file's formats (WebP), the function is deployed exactly as written"
  }
  assert {
    condition = (
      one(aws_cloudfront_distribution.this.default_cache_behavior[0].function_association).function_arn == aws_cloudfront_function.viewer_request[0].arn
      && one(aws_cloudfront_distribution.this.ordered_cache_behavior[0].function_association).event_type == "viewer-request"
      && length(aws_cloudfront_distribution.this.ordered_cache_behavior[1].function_association) == 0
    )
    error_message = "the function runs on the page and /thumbs/* (viewer request), not on /api/*"
  }
}

run "the_function_negotiates_only_the_formats_written" {
  command = plan

  variables {
    negotiated_formats = []
  }

  assert {
    condition = (
      strcontains(aws_cloudfront_function.viewer_request[0].code, "\nconst NEGOTIATED = [];\n")
      && !strcontains(aws_cloudfront_function.viewer_request[0].code, "image/webp\"}]")
      && length(split("\n", aws_cloudfront_function.viewer_request[0].code)) == length(split("\n", file("${path.module}/../cloudfront/viewer-request.js")))
    )
    error_message = "without WebP the function's NEGOTIATED list is empty (so extension-less URLs get .jpg), the rest unchanged"
  }
}

run "with_avif_the_function_offers_it_before_webp" {
  command = plan

  variables {
    negotiated_formats = [{ extension = "avif", media_type = "image/avif" }, { extension = "webp", media_type = "image/webp" }]
  }

  assert {
    condition     = strcontains(aws_cloudfront_function.viewer_request[0].code, "\nconst NEGOTIATED = [{\"extension\":\"avif\",\"media_type\":\"image/avif\"},{\"extension\":\"webp\",\"media_type\":\"image/webp\"}];\n")
    error_message = "with AVIF written the function's NEGOTIATED list is AVIF then WebP, best first"
  }
}

run "rejects_jpeg_or_a_bad_media_type_as_a_negotiated_format" {
  command = plan
  variables {
    negotiated_formats = [{ extension = "jpg", media_type = "image/jpeg" }, { extension = "webp", media_type = "text/html" }]
  }
  expect_failures = [var.negotiated_formats]
}

run "rejects_a_negotiated_format_listed_twice" {
  command = plan
  variables {
    negotiated_formats = [{ extension = "webp", media_type = "image/webp" }, { extension = "webp", media_type = "image/webp" }]
  }
  expect_failures = [var.negotiated_formats]
}

run "rejects_negotiated_formats_that_disagree_with_the_environment" {
  command = plan
  variables {
    function_environment = {
      THUMBFORGE_SIZES            = "small=256,medium=1024"
      THUMBFORGE_MAX_UPLOAD_BYTES = "26214400"
      THUMBFORGE_CACHE_SECONDS    = "3600"
      THUMBFORGE_FORMATS          = "jpeg"
    }
  }
  expect_failures = [var.negotiated_formats]
}

run "the_api_serves_the_presign_routes" {
  command = apply

  assert {
    condition     = toset(keys(aws_apigatewayv2_route.presign)) == toset(["POST /api/uploads", "GET /api/images", "GET /api/images/{id}", "DELETE /api/images/{id}", "GET /api/config", "ANY /api/{proxy+}"])
    error_message = "one route per entry of the route table (api_routes)"
  }
  assert {
    condition     = alltrue([for key, route in aws_apigatewayv2_route.presign : route.authorization_type == var.api_routes[key].authorization_type && route.target == "integrations/${aws_apigatewayv2_integration.presign.id}"])
    error_message = "each route has the route table's authorization and goes to the presign integration (tests/auth.tftest.hcl checks the authorizer)"
  }
  assert {
    condition     = aws_apigatewayv2_integration.presign.payload_format_version == "2.0" && aws_apigatewayv2_integration.presign.integration_type == "AWS_PROXY"
    error_message = "payload format 2.0, Lambda proxy"
  }
  assert {
    condition     = aws_apigatewayv2_stage.default.default_route_settings[0].throttling_rate_limit == 50 && aws_apigatewayv2_stage.default.default_route_settings[0].throttling_burst_limit == 100
    error_message = "the stage is throttled"
  }
  assert {
    condition     = aws_apigatewayv2_stage.default.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.api.arn && aws_cloudwatch_log_group.api.retention_in_days == 14
    error_message = "access logs go to a log group with retention"
  }
}

run "an_emulator_run_leaves_out_only_the_cloudfront_policies" {
  command = apply

  variables {
    aws_endpoint = "http://127.0.0.1:5000"
  }

  assert {
    condition     = length(aws_cloudfront_response_headers_policy.security) == 0 && length(aws_cloudfront_function.viewer_request) == 1
    error_message = "against an emulator, no response headers policy (moto has no such API), but the CloudFront Function"
  }

  assert {
    condition     = length(aws_cloudfront_cache_policy.thumbs) == 0 && aws_cloudfront_distribution.this.ordered_cache_behavior[0].cache_policy_id == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    error_message = "against an emulator, no cache policy of the stack's own (moto has no such API): /thumbs/* uses the managed CachingOptimized policy"
  }

  assert {
    condition     = alltrue([for p in values(local.bucket_policies) : p.Statement[0].Sid == "DenyInsecureTransport"])
    error_message = "against an emulator too, every bucket policy denies insecure transport"
  }
}

# Every validation block has a failing case.

run "rejects_a_bad_environment" {
  command = plan
  variables { environment = "Prod_1" }
  expect_failures = [var.environment]
}

run "rejects_a_bad_region" {
  command = plan
  variables { region = "mars" }
  expect_failures = [var.region]
}

run "rejects_an_endpoint_with_a_path" {
  command = plan
  variables { aws_endpoint = "localhost:5000/x" }
  expect_failures = [var.aws_endpoint]
}

run "rejects_a_presign_zip_that_is_not_a_zip" {
  command = plan
  variables { presign_zip = "bootstrap" }
  expect_failures = [var.presign_zip]
}

run "rejects_a_thumbnail_zip_that_is_not_a_zip" {
  command = plan
  variables { thumbnail_zip = "bootstrap" }
  expect_failures = [var.thumbnail_zip]
}

run "rejects_an_unknown_price_class" {
  command = plan
  variables { price_class = "PriceClass_Cheap" }
  expect_failures = [var.price_class]
}

run "rejects_long_error_caching" {
  command = plan
  variables { error_caching_seconds = 3600 }
  expect_failures = [var.error_caching_seconds]
}

run "rejects_fractional_reserved_concurrency" {
  command = plan
  variables { thumbnail_reserved_concurrency = 2.5 }
  expect_failures = [var.thumbnail_reserved_concurrency]
}

run "rejects_too_many_retries" {
  command = plan
  variables { thumbnail_max_retries = 3 }
  expect_failures = [var.thumbnail_max_retries]
}

run "rejects_a_short_event_age" {
  command = plan
  variables { thumbnail_max_event_age_seconds = 30 }
  expect_failures = [var.thumbnail_max_event_age_seconds]
}

run "rejects_a_long_dlq_retention" {
  command = plan
  variables { dlq_retention_seconds = 1209601 }
  expect_failures = [var.dlq_retention_seconds]
}

run "rejects_zero_day_raw_expiry" {
  command = plan
  variables { raw_expiration_days = -1 }
  expect_failures = [var.raw_expiration_days]
}

run "rejects_zero_day_noncurrent_versions" {
  command = plan
  variables { noncurrent_version_days = 0 }
  expect_failures = [var.noncurrent_version_days]
}

run "rejects_zero_rate_limit" {
  command = plan
  variables { api_throttling_rate_limit = 0 }
  expect_failures = [var.api_throttling_rate_limit]
}

run "rejects_zero_burst_limit" {
  command = plan
  variables { api_throttling_burst_limit = 0 }
  expect_failures = [var.api_throttling_burst_limit]
}

run "rejects_foreign_environment_variables" {
  command = plan
  variables {
    function_environment = { PATH = "/bin" }
  }
  expect_failures = [var.function_environment]
}

run "rejects_a_hand_set_bucket" {
  command = plan
  variables {
    function_environment = { THUMBFORGE_BUCKET = "mine", THUMBFORGE_MAX_UPLOAD_BYTES = "26214400" }
  }
  expect_failures = [var.function_environment]
}

run "rejects_an_upload_limit_over_5_gib" {
  command = plan
  variables {
    max_upload_bytes     = 6000000000
    function_environment = { THUMBFORGE_MAX_UPLOAD_BYTES = "6000000000" }
  }
  expect_failures = [var.max_upload_bytes]
}

run "rejects_an_upload_limit_that_disagrees_with_the_environment" {
  command = plan
  variables { max_upload_bytes = 1000 }
  expect_failures = [var.max_upload_bytes]
}

run "rejects_thumbnail_memory_out_of_range" {
  command = plan
  variables { thumbnail_memory_mb = 64 }
  expect_failures = [var.thumbnail_memory_mb]
}

run "rejects_thumbnail_timeout_out_of_range" {
  command = plan
  variables { thumbnail_timeout_seconds = 901 }
  expect_failures = [var.thumbnail_timeout_seconds]
}

run "rejects_presign_memory_out_of_range" {
  command = plan
  variables { presign_memory_mb = 20000 }
  expect_failures = [var.presign_memory_mb]
}

run "rejects_a_presign_timeout_api_gateway_cannot_wait_for" {
  command = plan
  variables { presign_timeout_seconds = 60 }
  expect_failures = [var.presign_timeout_seconds]
}

run "rejects_an_unsupported_log_retention" {
  command = plan
  variables { log_retention_days = 10 }
  expect_failures = [var.log_retention_days]
}

run "rejects_a_csp_without_the_upload_origin" {
  command = plan
  variables {
    security_headers = { csp_template = "default-src 'self'", hsts_max_age_seconds = 1, frame_options = "DENY", referrer_policy = "no-referrer", custom = {}, thumbs = {} }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_csp_without_the_identity_origin" {
  command = plan
  variables {
    security_headers = { csp_template = "connect-src 'self' {upload_origin}", hsts_max_age_seconds = 1, frame_options = "DENY", referrer_policy = "no-referrer", custom = {}, thumbs = {} }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_route_key_that_is_not_one" {
  command = plan
  variables {
    api_routes = { "/api/images" = { authorization_type = "JWT", throttling_rate_limit = 5, throttling_burst_limit = 5 } }
  }
  expect_failures = [var.api_routes]
}

run "rejects_an_unknown_authorization_type" {
  command = plan
  variables {
    api_routes = { "GET /api/images" = { authorization_type = "AWS_IAM", throttling_rate_limit = 5, throttling_burst_limit = 5 } }
  }
  expect_failures = [var.api_routes]
}

run "rejects_a_route_throttle_out_of_range" {
  command = plan
  variables {
    api_routes = { "GET /api/images" = { authorization_type = "JWT", throttling_rate_limit = 0, throttling_burst_limit = 5 } }
  }
  expect_failures = [var.api_routes]
}

run "rejects_a_negative_reserved_concurrency" {
  command = plan
  variables { thumbnail_reserved_concurrency = -1 }
  expect_failures = [var.thumbnail_reserved_concurrency]
}

run "rejects_bad_frame_options" {
  command = plan
  variables {
    security_headers = { csp_template = "connect-src {upload_origin} {identity_origin}", hsts_max_age_seconds = 1, frame_options = "ALLOW-FROM x", referrer_policy = "no-referrer", custom = {}, thumbs = {} }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_bad_referrer_policy" {
  command = plan
  variables {
    security_headers = { csp_template = "connect-src {upload_origin} {identity_origin}", hsts_max_age_seconds = 1, frame_options = "DENY", referrer_policy = "always", custom = {}, thumbs = {} }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_header_name_with_capitals_or_spaces" {
  command = plan
  variables {
    security_headers = { csp_template = "connect-src {upload_origin} {identity_origin}", hsts_max_age_seconds = 1, frame_options = "DENY", referrer_policy = "no-referrer", custom = { "Permissions Policy" = "camera=()" }, thumbs = {} }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_thumbnail_header_the_site_headers_already_set" {
  command = plan
  variables {
    security_headers = { csp_template = "connect-src {upload_origin} {identity_origin}", hsts_max_age_seconds = 1, frame_options = "DENY", referrer_policy = "no-referrer", custom = { "vary" = "Origin" }, thumbs = { "vary" = "Accept" } }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_negative_hsts_max_age" {
  command = plan
  variables {
    security_headers = { csp_template = "connect-src {upload_origin} {identity_origin}", hsts_max_age_seconds = -1, frame_options = "DENY", referrer_policy = "no-referrer", custom = {}, thumbs = {} }
  }
  expect_failures = [var.security_headers]
}

run "rejects_a_site_without_index_html" {
  command = plan
  variables {
    site_files = { "app.css" = { content_type = "text/css", cache_control = "no-cache" } }
  }
  expect_failures = [var.site_files]
}

run "rejects_cors_without_the_signed_headers" {
  command = plan
  variables {
    upload_cors = { allowed_headers = ["content-type"], expose_headers = [], max_age_seconds = 60 }
  }
  expect_failures = [var.upload_cors]
}

run "rejects_a_day_long_preflight_cache" {
  command = plan
  variables {
    upload_cors = { allowed_headers = ["content-type", "if-none-match"], expose_headers = [], max_age_seconds = 86401 }
  }
  expect_failures = [var.upload_cors]
}

# The cost ceilings: per-route throttles (uploads far stricter than reads) and the thumbnail
# function's reserved concurrency outside dev.

run "every_route_has_its_own_throttle_uploads_the_strictest" {
  command = plan

  assert {
    condition     = length(aws_apigatewayv2_stage.default.route_settings) == length(var.api_routes)
    error_message = "one route_settings block per route"
  }
  assert {
    condition = alltrue([for s in aws_apigatewayv2_stage.default.route_settings :
      s.throttling_rate_limit == var.api_routes[s.route_key].throttling_rate_limit &&
    s.throttling_burst_limit == var.api_routes[s.route_key].throttling_burst_limit])
    error_message = "each route's throttle is the one api_routes gives it"
  }
  assert {
    condition = one([for s in aws_apigatewayv2_stage.default.route_settings : s.throttling_rate_limit if s.route_key == "POST /api/uploads"]) < one([
    for s in aws_apigatewayv2_stage.default.route_settings : s.throttling_rate_limit if s.route_key == "GET /api/images"])
    error_message = "uploads are throttled harder than reads"
  }
}

run "the_thumbnail_function_is_capped_outside_dev" {
  command = plan
  variables { thumbnail_reserved_concurrency = 20 }

  assert {
    condition     = module.thumbnail.reserved_concurrency == 20
    error_message = "the thumbnail function reserves (and is capped at) 20 concurrent executions"
  }
  assert {
    condition     = module.presign.reserved_concurrency == -1
    error_message = "the API function reserves nothing"
  }
}

run "a_dev_environment_reserves_no_concurrency" {
  command = plan
  variables {
    environment                    = "dev"
    thumbnail_reserved_concurrency = 20
  }

  assert {
    condition     = module.thumbnail.reserved_concurrency == -1
    error_message = "dev reserves no concurrency"
  }
}

# Only CloudFront reaches the API: the distribution sends the secret Terraform drew, the API
# function checks the same value, and no output names the execute-api URL.
run "only_cloudfront_reaches_the_api" {
  command = apply

  assert {
    condition     = length(nonsensitive(terraform_data.origin_secret.output)) == 64 && can(regex("^[0-9a-f]{64}$", nonsensitive(terraform_data.origin_secret.output)))
    error_message = "the origin secret must be 64 hex digits (256 bits)"
  }
  assert {
    condition = [for o in aws_cloudfront_distribution.this.origin : [for h in o.custom_header : [h.name, nonsensitive(h.value)]] if o.origin_id == "api"][0] == [
      ["x-test-origin-secret", nonsensitive(terraform_data.origin_secret.output)]
    ]
    error_message = "the API origin must carry the secret in var.origin_secret_header"
  }
  assert {
    condition     = alltrue([for o in aws_cloudfront_distribution.this.origin : length(o.custom_header) == 0 if o.origin_id != "api"])
    error_message = "only the API origin gets the secret"
  }
  assert {
    condition     = nonsensitive(local.presign_environment["THUMBFORGE_ORIGIN_SECRET"]) == nonsensitive(terraform_data.origin_secret.output)
    error_message = "the API function must know the secret CloudFront sends"
  }
  assert {
    condition     = !contains(keys(local.thumbnail_environment), "THUMBFORGE_ORIGIN_SECRET")
    error_message = "the thumbnail function has no use for the origin secret"
  }
}

run "the_origin_secret_header_is_validated" {
  command = plan

  variables {
    origin_secret_header = "Authorization"
  }

  expect_failures = [var.origin_secret_header]
}
