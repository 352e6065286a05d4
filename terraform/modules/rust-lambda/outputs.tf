output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "The ARN API Gateway invokes."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "The execution role's name."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "The execution role's ARN."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "policy_statements" {
  description = "The statements of the role's inline policy (for tests)."
  value       = local.statements
}

output "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the function; -1 for none."
  value       = aws_lambda_function.this.reserved_concurrent_executions
}

output "tracing_mode" {
  description = "X-Ray tracing: Active or PassThrough."
  value       = aws_lambda_function.this.tracing_config[0].mode
}
