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
  description = "Concurrent executions reserved for (and capping) the thumbnail function; null for none (new accounts cannot reserve any)."
  default     = null

  validation {
    condition     = var.thumbnail_reserved_concurrency == null || try(var.thumbnail_reserved_concurrency >= 1 && var.thumbnail_reserved_concurrency <= 1000 && floor(var.thumbnail_reserved_concurrency) == var.thumbnail_reserved_concurrency, false)
    error_message = "thumbnail_reserved_concurrency must be null or a whole number between 1 and 1000."
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
  description = "How long the dead-letter queue keeps a failed event."
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be between 60 and 1209600 (14 days, SQS's limit)."
  }
}

variable "raw_expiration_days" {
  type        = number
  description = "Delete uploads under raw/ after this many days (thumbnails stay); null keeps them."
  default     = null

  validation {
    condition     = var.raw_expiration_days == null || try(var.raw_expiration_days >= 1, false)
    error_message = "raw_expiration_days must be null or at least 1."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days an overwritten or deleted object version is kept (both buckets are versioned)."
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
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

variable "security_headers" {
  type = object({
    csp_template         = string
    hsts_max_age_seconds = number
    frame_options        = string
    referrer_policy      = string
  })
  description = "Security headers of every answer (thumbforge_core::web); {upload_origin} in the CSP becomes the media bucket's origin."
  nullable    = false

  validation {
    condition     = strcontains(var.security_headers.csp_template, "{upload_origin}")
    error_message = "security_headers.csp_template must contain {upload_origin}, or browsers cannot upload to the bucket."
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
    condition     = var.security_headers.hsts_max_age_seconds >= 0
    error_message = "security_headers.hsts_max_age_seconds must not be negative."
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
