# The variables every tests/*.tftest.hcl runs with, in place of generated.auto.tfvars.json (so that
# no test depends on thumbforge.toml): `terraform test` loads terraform.tfvars and *.auto.tfvars
# from the test directory after those of terraform/, so these values replace the generated ones;
# a test file's `variables` block, then a run's, override them. Every variable the generated file
# sets must be set here too (xtask's tests check it), or its generated value would leak in.
environment   = "test"
region        = "eu-west-3"
presign_zip   = "tests/fixtures/bootstrap.zip"
thumbnail_zip = "tests/fixtures/bootstrap.zip"
site_dir      = "tests/fixtures/site"
site_files = {
  "index.html" = { content_type = "text/html; charset=utf-8", cache_control = "no-cache" }
  "app.css"    = { content_type = "text/css; charset=utf-8", cache_control = "public, max-age=300" }
}
function_environment = {
  THUMBFORGE_SIZES            = "small=256,medium=1024"
  THUMBFORGE_MAX_UPLOAD_BYTES = "26214400"
  THUMBFORGE_CACHE_SECONDS    = "3600"
}
max_upload_bytes               = 26214400
thumbnail_memory_mb            = 1024
thumbnail_timeout_seconds      = 30
presign_memory_mb              = 256
presign_timeout_seconds        = 10
log_retention_days             = 14
thumbnail_cache_seconds        = 3600
negotiated_formats             = [{ extension = "webp", media_type = "image/webp" }]
watermark_image                = ""
thumbnail_reserved_concurrency = 0
raw_expiration_days            = 0
noncurrent_version_days        = 30
api_throttling_rate_limit      = 50
api_throttling_burst_limit     = 100
cleanup = {
  batch_size             = 10
  max_retries            = 10
  max_record_age_seconds = 86400
  filter_patterns = [
    "{\"eventName\":[\"REMOVE\"],\"dynamodb\":{\"Keys\":{\"sk\":{\"S\":[{\"prefix\":\"IMAGE#\"}]}}}}",
    "{\"eventName\":[\"INSERT\",\"MODIFY\"],\"dynamodb\":{\"Keys\":{\"sk\":{\"S\":[\"DELETED\"]}},\"NewImage\":{\"status\":{\"S\":[\"deleting\"]}}}}",
  ]
}
api_routes = {
  "POST /api/uploads"       = { authorization_type = "JWT", throttling_rate_limit = 5, throttling_burst_limit = 20 }
  "GET /api/images"         = { authorization_type = "JWT", throttling_rate_limit = 50, throttling_burst_limit = 100 }
  "GET /api/images/{id}"    = { authorization_type = "JWT", throttling_rate_limit = 50, throttling_burst_limit = 100 }
  "DELETE /api/images/{id}" = { authorization_type = "JWT", throttling_rate_limit = 20, throttling_burst_limit = 40 }
  "GET /api/config"         = { authorization_type = "NONE", throttling_rate_limit = 50, throttling_burst_limit = 100 }
  "ANY /api/{proxy+}"       = { authorization_type = "JWT", throttling_rate_limit = 20, throttling_burst_limit = 40 }
}
auth = {
  provider             = "cognito"
  issuer               = null
  audience             = []
  authorize_url        = null
  token_url            = null
  logout_url           = null
  scopes               = ["openid", "email"]
  route_scopes         = ["openid", "aws.cognito.signin.user.admin"]
  password             = { min_length = 10, require_lowercase = true, require_uppercase = true, require_numbers = true, require_symbols = false }
  access_token_minutes = 60
  id_token_minutes     = 60
  refresh_token_days   = 30
}
security_headers = {
  csp_template         = "default-src 'none'; connect-src 'self' {upload_origin} {identity_origin}"
  hsts_max_age_seconds = 63072000
  frame_options        = "DENY"
  referrer_policy      = "strict-origin-when-cross-origin"
  custom               = { "cross-origin-opener-policy" = "same-origin", "permissions-policy" = "camera=(), geolocation=()" }
  thumbs               = { "cross-origin-resource-policy" = "same-origin", "vary" = "Accept" }
}
origin_secret_header = "x-test-origin-secret"
edge = {
  access_logs                    = true
  waf                            = false
  waf_api_requests_per_5_minutes = 1000
}
alarms = {
  emails                    = ["ops@example.com"]
  monthly_budget_usd        = 0
  time_to_ready_p95_seconds = 60
  api_5xx_percent           = 5
  xray                      = false
}
metrics = {
  namespace        = "thumbforge"
  function         = "Function"
  outcome          = "Outcome"
  reason           = "Reason"
  ready            = "ready"
  images           = "Images"
  time_to_ready_ms = "TimeToReadyMs"
  download_ms      = "DownloadMs"
  decode_ms        = "DecodeMs"
  resize_ms        = "ResizeMs"
  encode_ms        = "EncodeMs"
  upload_ms        = "UploadMs"
  uploads_started  = "UploadsStarted"
  quota_refusals   = "QuotaRefusals"
}
download_cors = {
  expose_headers = ["Content-Disposition"]
}
upload_cors = {
  allowed_headers = ["content-type", "if-none-match", "x-amz-meta-filename"]
  expose_headers  = ["ETag"]
  max_age_seconds = 3000
}
