variable "name" {
  type        = string
  description = "Function name (also the role's and the log group's)."
}

variable "description" {
  type        = string
  description = "What the function does."
}

variable "zip" {
  type        = string
  description = "Deployment zip holding one executable `bootstrap` (cargo xtask build)."
}

variable "memory_mb" {
  type        = number
  description = "Memory in MB."
}

variable "timeout_seconds" {
  type        = number
  description = "Timeout in seconds."
}

variable "environment" {
  type        = map(string)
  description = "Environment variables."
}

variable "log_retention_days" {
  type        = number
  description = "CloudWatch retention of the function's log group."
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions; null for none."
  default     = null
}

variable "policy_statements" {
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  description = "What the function may do besides writing its own logs (least privilege)."
}

variable "tracing" {
  type        = bool
  description = "AWS X-Ray active tracing (alarms.xray of thumbforge.toml); the role may then write trace segments."
  default     = false
  nullable    = false
}
