# Inputs. Two kinds:
# - values derived from thumbforge.toml (crates/core): no default here, they come from
#   generated.auto.tfvars.json, written by `cargo xtask tfvars` (never edit that file by hand);
# - deployment choices (environment, region, sizes of the edge and the queue): defaults below.

# --- Deployment -------------------------------------------------------------------------------

variable "environment" {
  type        = string
  description = "Environment name (one Terraform workspace each); part of every resource name."
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$", var.environment))
    error_message = "environment must be 1-16 characters: lowercase letters, digits and inner hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region of every regional resource (CloudFront is global)."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, e.g. us-east-1 or eu-west-3."
  }
}

variable "aws_endpoint" {
  type        = string
  description = "Send every AWS API call to this endpoint (an emulator such as moto) instead of AWS. Null on AWS."
  default     = null

  validation {
    condition     = var.aws_endpoint == null || can(regex("^https?://[^/]+/?$", var.aws_endpoint))
    error_message = "aws_endpoint must be an http(s) URL without a path, e.g. http://127.0.0.1:5000."
  }
}

variable "presign_zip" {
  type        = string
  description = "The presign function's deployment zip (from `cargo xtask build`); null for target/dist/presign.zip."
  default     = null

  validation {
    condition     = var.presign_zip == null || endswith(coalesce(var.presign_zip, "x.zip"), ".zip")
    error_message = "presign_zip must name a .zip file."
  }
}

variable "thumbnail_zip" {
  type        = string
  description = "The thumbnail function's deployment zip (from `cargo xtask build`); null for target/dist/thumbnail.zip."
  default     = null

  validation {
    condition     = var.thumbnail_zip == null || endswith(coalesce(var.thumbnail_zip, "x.zip"), ".zip")
    error_message = "thumbnail_zip must name a .zip file."
  }
}

variable "site_dir" {
  type        = string
  description = "Folder holding the page's files (the keys of site_files); null for ../frontend."
  default     = null
}

variable "price_class" {
  type        = string
  description = "CloudFront price class: PriceClass_100 (North America, Europe) is the cheapest."
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "error_caching_seconds" {
  type        = number
  description = "How long CloudFront caches a 403 or 404 (a thumbnail asked for before it exists): short."
  default     = 5

  validation {
    condition     = var.error_caching_seconds >= 0 && var.error_caching_seconds <= 300
    error_message = "error_caching_seconds must be between 0 and 300."
  }
}

variable "thumbnail_reserved_concurrency" {
  type        = number
  description = "Concurrent executions reserved for, and capping, the thumbnail function in every environment but dev (functions.thumbnail_reserved_concurrency); 0 for none (an account must keep 100 unreserved, so new accounts cannot reserve any)."
  default     = 0
  nullable    = false

  validation {
    condition     = var.thumbnail_reserved_concurrency >= 0 && var.thumbnail_reserved_concurrency <= 1000 && floor(var.thumbnail_reserved_concurrency) == var.thumbnail_reserved_concurrency
    error_message = "thumbnail_reserved_concurrency must be a whole number between 0 and 1000."
  }
}

variable "thumbnail_max_retries" {
  type        = number
  description = "Retries of a failed asynchronous thumbnail invocation before it goes to the dead-letter queue."
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.thumbnail_max_retries)
    error_message = "thumbnail_max_retries must be 0, 1 or 2 (Lambda's limit)."
  }
}

variable "thumbnail_max_event_age_seconds" {
  type        = number
  description = "Oldest S3 event the thumbnail function still processes; older ones go to the dead-letter queue."
  default     = 3600

  validation {
    condition     = var.thumbnail_max_event_age_seconds >= 60 && var.thumbnail_max_event_age_seconds <= 21600
    error_message = "thumbnail_max_event_age_seconds must be between 60 and 21600 (Lambda's limits)."
  }
}

variable "dlq_retention_seconds" {
  type        = number
  description = "How long each dead-letter queue (failed thumbnail events, failed clean-ups) keeps a message."
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be between 60 and 1209600 (14 days, SQS's limit)."
  }
}

variable "raw_expiration_days" {
  type        = number
  description = "Delete uploads under raw/ after this many days (storage.raw_expiration_days; thumbnails stay); 0 keeps them."
  default     = 0
  nullable    = false

  validation {
    condition     = var.raw_expiration_days >= 0 && var.raw_expiration_days <= 36500 && floor(var.raw_expiration_days) == var.raw_expiration_days
    error_message = "raw_expiration_days must be a whole number of days from 0 (keep) to 36500."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days an overwritten or deleted object version is kept (storage.noncurrent_version_days; both buckets are versioned)."
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1 && var.noncurrent_version_days <= 36500 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of days from 1 to 36500."
  }
}

variable "api_throttling_rate_limit" {
  type        = number
  description = "Steady-state requests per second the API accepts (stage default)."
  default     = 50

  validation {
    condition     = var.api_throttling_rate_limit > 0 && var.api_throttling_rate_limit <= 10000
    error_message = "api_throttling_rate_limit must be between 1 and 10000."
  }
}

variable "api_throttling_burst_limit" {
  type        = number
  description = "Burst of requests the API accepts (stage default)."
  default     = 100

  validation {
    condition     = var.api_throttling_burst_limit > 0 && var.api_throttling_burst_limit <= 5000
    error_message = "api_throttling_burst_limit must be between 1 and 5000."
  }
}

variable "local_origins" {
  type        = list(string)
  description = "Where else the page runs and may sign in from (the app client's extra callback and sign-out URLs, beside the site's): `cargo xtask dev`'s http://localhost:8080/ by default; [] for production. Cognito accepts plain http for localhost only."
  default     = ["http://localhost:8080/"]
  nullable    = false

  validation {
    condition     = length(var.local_origins) <= 99 && alltrue([for url in var.local_origins : can(regex("^(https://[a-z0-9.-]+(:[0-9]{1,5})?|http://localhost(:[0-9]{1,5})?)/$", url))])
    error_message = "local_origins must be at most 99 URLs of a page's root, such as http://localhost:8080/ or https://staging.example.com/ (http only for localhost, a final /, nothing after it)."
  }
}

variable "user_pool_deletion_protection" {
  type        = bool
  description = "Deletion protection of the Cognito user pool (the accounts). Set true for production: Cognito then refuses to delete the pool, and `cargo xtask destroy` refuses to start until it is set back to false and deployed."
  default     = false
  nullable    = false
}

variable "table_deletion_protection" {
  type        = bool
  description = "Deletion protection of the DynamoDB table (the image catalog). Set true for production: DynamoDB then refuses to delete the table, and `cargo xtask destroy` refuses to start until it is set back to false and deployed."
  default     = false
  nullable    = false
}

# --- From thumbforge.toml (generated.auto.tfvars.json) ----------------------------------------

variable "function_environment" {
  type        = map(string)
  description = "THUMBFORGE_* variables both functions read (RuntimeConfig::to_env); THUMBFORGE_BUCKET is added here."
  nullable    = false

  validation {
    condition     = length(var.function_environment) > 0 && alltrue([for name in keys(var.function_environment) : can(regex("^THUMBFORGE_[A-Z0-9_]+$", name))])
    error_message = "function_environment must hold THUMBFORGE_* variables only; regenerate it with `cargo xtask tfvars`."
  }

  validation {
    condition     = !contains(keys(var.function_environment), "THUMBFORGE_BUCKET")
    error_message = "function_environment must not set THUMBFORGE_BUCKET: Terraform sets it to the media bucket."
  }
}

variable "max_upload_bytes" {
  type        = number
  description = "Largest upload in bytes (limits.max_upload_bytes)."
  nullable    = false

  validation {
    condition     = var.max_upload_bytes >= 1 && var.max_upload_bytes <= 5368709120
    error_message = "max_upload_bytes must be between 1 and 5 GiB (S3's single PUT limit)."
  }

  validation {
    condition     = tostring(var.max_upload_bytes) == lookup(var.function_environment, "THUMBFORGE_MAX_UPLOAD_BYTES", tostring(var.max_upload_bytes))
    error_message = "max_upload_bytes disagrees with THUMBFORGE_MAX_UPLOAD_BYTES: regenerate with `cargo xtask tfvars`."
  }
}

variable "thumbnail_memory_mb" {
  type        = number
  description = "Thumbnail function memory in MB (functions.thumbnail.memory_mb)."
  nullable    = false

  validation {
    condition     = var.thumbnail_memory_mb >= 128 && var.thumbnail_memory_mb <= 10240
    error_message = "thumbnail_memory_mb must be between 128 and 10240."
  }
}

variable "thumbnail_timeout_seconds" {
  type        = number
  description = "Thumbnail function timeout in seconds (functions.thumbnail.timeout_seconds)."
  nullable    = false

  validation {
    condition     = var.thumbnail_timeout_seconds >= 1 && var.thumbnail_timeout_seconds <= 900
    error_message = "thumbnail_timeout_seconds must be between 1 and 900."
  }
}

variable "thumbnail_cache_seconds" {
  type        = number
  description = "How long browsers and CloudFront may keep a rendition, in seconds (thumbnails.cache_seconds): the renditions' Cache-Control max-age and the /thumbs/* cache policy's default and maximum TTL, so the longest a deleted photo's thumbnail stays servable from a cache."
  nullable    = false

  validation {
    condition     = var.thumbnail_cache_seconds >= 60 && var.thumbnail_cache_seconds <= 86400 && floor(var.thumbnail_cache_seconds) == var.thumbnail_cache_seconds
    error_message = "thumbnail_cache_seconds must be a whole number between 60 and 86400."
  }

  validation {
    condition     = tostring(var.thumbnail_cache_seconds) == lookup(var.function_environment, "THUMBFORGE_CACHE_SECONDS", tostring(var.thumbnail_cache_seconds))
    error_message = "thumbnail_cache_seconds disagrees with THUMBFORGE_CACHE_SECONDS: regenerate with `cargo xtask tfvars`."
  }
}

variable "negotiated_formats" {
  type = list(object({
    extension  = string
    media_type = string
  }))
  description = "The formats thumbnails are written in besides JPEG, best first (thumbnails.formats): the CloudFront Function gives an extension-less /thumbs/{id}/{px} the first one the browser's Accept names, JPEG otherwise."
  nullable    = false

  validation {
    condition     = alltrue([for f in var.negotiated_formats : can(regex("^[a-z0-9]{1,8}$", f.extension)) && f.extension != "jpg" && can(regex("^image/[a-z0-9.+-]{1,32}$", f.media_type))])
    error_message = "negotiated_formats: each extension is 1-8 characters of a-z0-9 (not jpg, the fallback) and each media_type image/<subtype>."
  }

  validation {
    condition     = length(distinct([for f in var.negotiated_formats : f.extension])) == length(var.negotiated_formats)
    error_message = "negotiated_formats must not list a format twice."
  }

  validation {
    condition     = join(",", sort(concat(["jpeg"], [for f in var.negotiated_formats : f.extension]))) == join(",", sort(split(",", lookup(var.function_environment, "THUMBFORGE_FORMATS", join(",", concat(["jpeg"], [for f in var.negotiated_formats : f.extension]))))))
    error_message = "negotiated_formats disagrees with THUMBFORGE_FORMATS: regenerate with `cargo xtask tfvars`."
  }
}

variable "watermark_image" {
  type        = string
  description = "The watermark PNG (watermark.image), relative to terraform/ or absolute; empty for none. Uploaded to THUMBFORGE_WATERMARK's key (watermark.tf)."
  nullable    = false

  validation {
    condition     = var.watermark_image == "" || try(endswith(lower(var.watermark_image), ".png") && fileexists(var.watermark_image), false)
    error_message = "watermark_image must name an existing .png file (or be empty): regenerate with `cargo xtask tfvars`."
  }

  # The checks of thumbforge_core::watermark::check_png, on the file's base64: the PNG signature
  # and IHDR (bytes 0-15), at most 1 MiB, and colour type 4 or 6 (byte 25: the low 4 bits of
  # base64 character 33 and the high 4 of character 34).
  validation {
    condition     = var.watermark_image == "" || try(substr(filebase64(var.watermark_image), 0, 11) == "iVBORw0KGgo" && substr(filebase64(var.watermark_image), 16, 4) == "SUhE" && length(filebase64(var.watermark_image)) <= 1398104, false)
    error_message = "watermark_image must be a PNG file of at most 1 MiB."
  }

  validation {
    condition     = var.watermark_image == "" || try(contains([4, 6], (index(split("", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), substr(filebase64(var.watermark_image), 33, 1)) % 16) * 16 + floor(index(split("", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), substr(filebase64(var.watermark_image), 34, 1)) / 4)), false)
    error_message = "watermark_image has no alpha channel: save it as RGBA (PNG colour type 6) or grey + alpha (4)."
  }

  validation {
    condition     = (var.watermark_image == "") == (lookup(var.function_environment, "THUMBFORGE_WATERMARK", "") == "")
    error_message = "watermark_image disagrees with THUMBFORGE_WATERMARK (a watermark needs both, or neither): regenerate with `cargo xtask tfvars`."
  }
}

variable "presign_memory_mb" {
  type        = number
  description = "Presign function memory in MB (functions.presign.memory_mb)."
  nullable    = false

  validation {
    condition     = var.presign_memory_mb >= 128 && var.presign_memory_mb <= 10240
    error_message = "presign_memory_mb must be between 128 and 10240."
  }
}

variable "presign_timeout_seconds" {
  type        = number
  description = "Presign function timeout in seconds (functions.presign.timeout_seconds)."
  nullable    = false

  validation {
    condition     = var.presign_timeout_seconds >= 1 && var.presign_timeout_seconds <= 29
    error_message = "presign_timeout_seconds must be between 1 and 29: API Gateway gives up on an integration after 30 s."
  }
}

variable "log_retention_days" {
  type        = number
  description = "CloudWatch retention of the functions' and the API's logs (logs.retention_days)."
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "cleanup" {
  type = object({
    batch_size             = number
    max_retries            = number
    max_record_age_seconds = number
    filter_patterns        = list(string)
  })
  description = "The clean-up of deleted images and accounts ([cleanup] of thumbforge.toml): the table stream's event source mapping to the thumbnail function, with its batch size, retries (the batch split in two after each failure) and oldest record retried, before a record goes to the clean-up dead-letter queue; filter_patterns are thumbforge_catalog::schema::REMOVED_IMAGES_FILTER (removed image items) and ACCOUNT_DELETION_FILTER (an account's DELETED tombstone while it is deleting), in that order: Lambda invokes the function for a record any of them matches."
  nullable    = false

  validation {
    condition     = var.cleanup.batch_size >= 1 && var.cleanup.batch_size <= 1000 && floor(var.cleanup.batch_size) == var.cleanup.batch_size
    error_message = "cleanup.batch_size must be a whole number between 1 and 1000."
  }

  validation {
    condition     = var.cleanup.max_retries >= 0 && var.cleanup.max_retries <= 10000 && floor(var.cleanup.max_retries) == var.cleanup.max_retries
    error_message = "cleanup.max_retries must be a whole number between 0 and 10000."
  }

  validation {
    condition     = var.cleanup.max_record_age_seconds >= 60 && var.cleanup.max_record_age_seconds <= 86400 && floor(var.cleanup.max_record_age_seconds) == var.cleanup.max_record_age_seconds
    error_message = "cleanup.max_record_age_seconds must be a whole number between 60 and 86400 (the stream keeps a record a day)."
  }

  validation {
    condition     = length(var.cleanup.filter_patterns) >= 1 && length(var.cleanup.filter_patterns) <= 5
    error_message = "cleanup.filter_patterns must hold 1 to 5 patterns (Lambda's limit per event source mapping); regenerate with `cargo xtask tfvars`."
  }

  validation {
    condition     = alltrue([for p in var.cleanup.filter_patterns : can(jsondecode(p))])
    error_message = "cleanup.filter_patterns must each be the JSON text of a Lambda event filter pattern; regenerate with `cargo xtask tfvars`."
  }

  # The removed images: REMOVE records of IMAGE# items only, so that no upload or edit of an
  # image invokes the function through this pattern.
  validation {
    condition     = length([for p in var.cleanup.filter_patterns : p if try(jsondecode(p).eventName == ["REMOVE"] && jsondecode(p).dynamodb.Keys.sk.S == [{ prefix = "IMAGE#" }], false)]) == 1
    error_message = "cleanup.filter_patterns must hold exactly one pattern selecting REMOVE records (and no other event) of IMAGE# items (REMOVED_IMAGES_FILTER); regenerate with `cargo xtask tfvars`."
  }

  # The deleted accounts: the DELETED tombstone, inserted or modified, while its status is
  # deleting (a finished deletion's own changes do not invoke the function again).
  validation {
    condition     = length([for p in var.cleanup.filter_patterns : p if try(contains(jsondecode(p).eventName, "INSERT") && length(setsubtract(jsondecode(p).eventName, ["INSERT", "MODIFY"])) == 0 && jsondecode(p).dynamodb.Keys.sk.S == ["DELETED"] && jsondecode(p).dynamodb.NewImage.status.S == ["deleting"], false)]) == 1
    error_message = "cleanup.filter_patterns must hold exactly one pattern selecting INSERT (and MODIFY) records of the DELETED tombstone whose status is deleting (ACCOUNT_DELETION_FILTER); regenerate with `cargo xtask tfvars`."
  }
}

variable "api_routes" {
  type = map(object({
    authorization_type     = string
    throttling_rate_limit  = number
    throttling_burst_limit = number
  }))
  description = "The API's routes by route key (crates/core/src/routes.rs), each with its authorization (JWT: the authorizer runs first, or NONE) and its throttle ([api] of thumbforge.toml)."
  nullable    = false

  validation {
    condition     = length(var.api_routes) > 0 && alltrue([for key, route in var.api_routes : can(regex("^(GET|POST|PUT|PATCH|DELETE|ANY) /api/[A-Za-z0-9/{}+_-]+$", key)) && contains(["JWT", "NONE"], route.authorization_type)])
    error_message = "api_routes keys must be route keys such as \"GET /api/images/{id}\", each with authorization_type JWT or NONE."
  }

  validation {
    condition     = alltrue([for route in var.api_routes : route.throttling_rate_limit >= 1 && route.throttling_rate_limit <= 10000 && route.throttling_burst_limit >= 1 && route.throttling_burst_limit <= 5000])
    error_message = "every route's throttling_rate_limit must be between 1 and 10000 and its throttling_burst_limit between 1 and 5000."
  }
}

variable "auth" {
  type = object({
    provider      = string
    issuer        = string
    audience      = list(string)
    authorize_url = string
    token_url     = string
    logout_url    = string
    scopes        = list(string)
    route_scopes  = list(string)
    password = object({
      min_length        = number
      require_lowercase = bool
      require_uppercase = bool
      require_numbers   = bool
      require_symbols   = bool
    })
    access_token_minutes = number
    id_token_minutes     = number
    refresh_token_days   = number
  })
  description = "Sign-in and the API's JWT authorizer ([auth] of thumbforge.toml, thumbforge_core::auth::Auth): provider cognito (a user pool, its hosted UI and a public app client are created) or oidc (issuer, audience and the endpoints of your own OpenID Connect provider; null or empty with cognito)."
  nullable    = false

  validation {
    condition     = contains(["cognito", "oidc"], var.auth.provider)
    error_message = "auth.provider must be cognito or oidc."
  }

  validation {
    condition     = var.auth.provider == "oidc" || (var.auth.issuer == null && length(var.auth.audience) == 0 && var.auth.authorize_url == null && var.auth.token_url == null && var.auth.logout_url == null)
    error_message = "auth.issuer, audience, authorize_url, token_url and logout_url are for provider = \"oidc\"; with cognito the stack derives them."
  }

  validation {
    condition     = var.auth.provider != "oidc" || can(regex("^https://[^/?#\\s]+([/?#]\\S*)?$", var.auth.issuer)) && !endswith(coalesce(var.auth.issuer, "/"), "/")
    error_message = "auth.issuer must be an https:// URL without a trailing / (it is compared with the tokens' iss exactly) with provider = \"oidc\"."
  }

  validation {
    condition     = var.auth.provider != "oidc" || length(var.auth.audience) > 0 && alltrue([for a in var.auth.audience : length(trimspace(a)) > 0 && length(a) <= 256])
    error_message = "auth.audience must name at least one audience of 1-256 characters (the page's client id first) with provider = \"oidc\"."
  }

  validation {
    condition     = var.auth.provider != "oidc" || alltrue([for url in concat([var.auth.authorize_url, var.auth.token_url], var.auth.logout_url == null ? [] : [var.auth.logout_url]) : can(regex("^https://[^/?#\\s]+([/?#]\\S*)?$", url))])
    error_message = "auth.authorize_url and auth.token_url are required https:// URLs with provider = \"oidc\" (auth.logout_url too, when set)."
  }

  validation {
    condition     = contains(var.auth.scopes, "openid") && alltrue([for s in concat(var.auth.scopes, var.auth.route_scopes) : can(regex("^[!#-\\[\\]-~]+$", s))])
    error_message = "auth.scopes must include openid, and every scope of auth.scopes and auth.route_scopes must be printable ASCII without space, \" or \\."
  }

  validation {
    condition     = var.auth.provider != "cognito" || alltrue([for s in var.auth.scopes : contains(["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"], s)])
    error_message = "with provider = \"cognito\", auth.scopes must be among openid, email, phone, profile and aws.cognito.signin.user.admin (the stack defines no resource server)."
  }

  validation {
    condition     = var.auth.access_token_minutes >= 5 && var.auth.access_token_minutes <= 1440 && var.auth.id_token_minutes >= 5 && var.auth.id_token_minutes <= 1440
    error_message = "auth.access_token_minutes and auth.id_token_minutes must be between 5 and 1440."
  }

  validation {
    condition     = var.auth.refresh_token_days >= 1 && var.auth.refresh_token_days <= 3650
    error_message = "auth.refresh_token_days must be between 1 and 3650."
  }

  validation {
    condition     = var.auth.password.min_length >= 6 && var.auth.password.min_length <= 99
    error_message = "auth.password.min_length must be between 6 and 99."
  }
}

variable "security_headers" {
  type = object({
    csp_template         = string
    hsts_max_age_seconds = number
    frame_options        = string
    referrer_policy      = string
    custom               = map(string)
    thumbs               = map(string)
  })
  description = "Security headers of every answer (thumbforge_core::web); in the CSP, {upload_origin} becomes the media bucket's origin and {identity_origin} the token endpoint's (auth.tf). custom: the headers CloudFront has no named setting for (Cross-Origin-Opener-Policy, Permissions-Policy); thumbs: what /thumbs/* adds (Cross-Origin-Resource-Policy, Vary: Accept)."
  nullable    = false

  validation {
    condition     = strcontains(var.security_headers.csp_template, "{upload_origin}")
    error_message = "security_headers.csp_template must contain {upload_origin}, or browsers cannot upload to the bucket."
  }

  validation {
    condition     = strcontains(var.security_headers.csp_template, "{identity_origin}")
    error_message = "security_headers.csp_template must contain {identity_origin}, or the page cannot exchange its sign-in code for tokens."
  }

  validation {
    condition     = contains(["DENY", "SAMEORIGIN"], var.security_headers.frame_options)
    error_message = "security_headers.frame_options must be DENY or SAMEORIGIN."
  }

  validation {
    condition     = contains(["no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"], var.security_headers.referrer_policy)
    error_message = "security_headers.referrer_policy must be a Referrer-Policy value CloudFront accepts."
  }

  validation {
    condition     = alltrue([for name in concat(keys(var.security_headers.custom), keys(var.security_headers.thumbs)) : can(regex("^[a-z][a-z0-9-]*$", name))])
    error_message = "security_headers.custom and .thumbs must be keyed by lower-case header names."
  }

  validation {
    condition     = length(setintersection(keys(var.security_headers.custom), keys(var.security_headers.thumbs))) == 0
    error_message = "security_headers.thumbs must not repeat a header of security_headers.custom (CloudFront refuses a policy naming one twice)."
  }

  validation {
    condition     = var.security_headers.hsts_max_age_seconds >= 0
    error_message = "security_headers.hsts_max_age_seconds must not be negative."
  }
}

variable "edge" {
  type = object({
    access_logs                    = bool
    waf                            = bool
    waf_api_requests_per_5_minutes = number
  })
  description = "[edge] of thumbforge.toml: CloudFront standard logging (v2), and the optional WAF web ACL with its per-IP rate rule on /api/* (observability.tf, waf.tf)."
  nullable    = false

  validation {
    condition     = var.edge.waf_api_requests_per_5_minutes >= 100 && var.edge.waf_api_requests_per_5_minutes <= 2000000000 && floor(var.edge.waf_api_requests_per_5_minutes) == var.edge.waf_api_requests_per_5_minutes
    error_message = "edge.waf_api_requests_per_5_minutes must be a whole number from 100 to 2000000000."
  }
}

variable "alarms" {
  type = object({
    emails                    = list(string)
    monthly_budget_usd        = number
    time_to_ready_p95_seconds = number
    api_5xx_percent           = number
    xray                      = bool
  })
  description = "[alarms] of thumbforge.toml: who is mailed, the optional monthly budget, the alarm thresholds and X-Ray tracing (observability.tf)."
  nullable    = false

  validation {
    condition     = alltrue([for e in var.alarms.emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarms.emails must be email addresses."
  }

  validation {
    condition     = var.alarms.monthly_budget_usd >= 0 && var.alarms.monthly_budget_usd <= 1000000
    error_message = "alarms.monthly_budget_usd must be from 0 (no budget) to 1000000."
  }

  validation {
    condition     = var.alarms.monthly_budget_usd == 0 || length(var.alarms.emails) > 0
    error_message = "alarms.monthly_budget_usd needs alarms.emails: the budget would tell no one."
  }

  validation {
    condition     = var.alarms.time_to_ready_p95_seconds >= 1 && var.alarms.time_to_ready_p95_seconds <= 3600
    error_message = "alarms.time_to_ready_p95_seconds must be from 1 to 3600."
  }

  validation {
    condition     = var.alarms.api_5xx_percent >= 1 && var.alarms.api_5xx_percent <= 100
    error_message = "alarms.api_5xx_percent must be from 1 to 100."
  }
}

variable "metrics" {
  type = object({
    namespace        = string
    function         = string
    outcome          = string
    reason           = string
    ready            = string
    images           = string
    time_to_ready_ms = string
    download_ms      = string
    decode_ms        = string
    resize_ms        = string
    encode_ms        = string
    upload_ms        = string
    uploads_started  = string
    quota_refusals   = string
  })
  description = "The names of thumbforge's own metrics (thumbforge_core::metrics), which the functions write as Embedded Metric Format lines."
  nullable    = false

  validation {
    condition     = alltrue([for v in values(var.metrics) : length(v) > 0])
    error_message = "every metric name must be set."
  }
}

variable "origin_secret_header" {
  type        = string
  description = "The header CloudFront adds to every API request with the origin secret, and the API function checks (thumbforge_core::web::ORIGIN_SECRET_HEADER)."
  nullable    = false

  validation {
    condition     = can(regex("^x-[a-z0-9-]+$", var.origin_secret_header))
    error_message = "origin_secret_header must be a lower-case x- header name."
  }
}

variable "site_files" {
  type = map(object({
    content_type  = string
    cache_control = string
  }))
  description = "The page's files (paths relative to site_dir) with their Content-Type and Cache-Control (thumbforge_core::web::site_file_headers)."
  nullable    = false

  validation {
    condition     = contains(keys(var.site_files), "index.html")
    error_message = "site_files must include index.html; regenerate with `cargo xtask tfvars`."
  }
}

variable "download_cors" {
  type = object({
    expose_headers = list(string)
  })
  description = "The media bucket's CORS rule for the page's GET of an original's pre-signed URL (thumbforge_core::web::DOWNLOAD_CORS_*)."
  nullable    = false
}

variable "upload_cors" {
  type = object({
    allowed_headers = list(string)
    expose_headers  = list(string)
    max_age_seconds = number
  })
  description = "The media bucket's CORS rule for the page's pre-signed PUT (thumbforge_core::web::UPLOAD_CORS_*)."
  nullable    = false

  validation {
    condition     = alltrue([for h in ["content-type", "if-none-match"] : contains([for a in var.upload_cors.allowed_headers : lower(a)], h)])
    error_message = "upload_cors.allowed_headers must allow content-type and if-none-match, which every upload URL signs."
  }

  validation {
    condition     = var.upload_cors.max_age_seconds >= 0 && var.upload_cors.max_age_seconds <= 86400
    error_message = "upload_cors.max_age_seconds must be between 0 and 86400."
  }
}
