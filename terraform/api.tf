# The HTTP API in front of the presign function, reached through CloudFront under /api/*.
#
# The routes come from the one route table (crates/core/src/routes.rs, through
# generated.auto.tfvars.json): each endpoint on its own (its own metrics and access-log route
# key), plus `ANY /api/{proxy+}` so that anything else under /api/ still reaches the function and
# gets its JSON 404, or its 405 with `Allow`, rather than API Gateway's bare 404. The page and the
# API share CloudFront's origin, so no CORS is configured here.

# Only CloudFront reaches the API (lambdas/presign/src/origin.rs): the distribution sends this
# secret in var.origin_secret_header with every request to the API origin (cdn.tf) and the
# function refuses requests without it (403), so the execute-api URL is useless on its own and
# is not an output. 256 bits from two random UUIDs, drawn once: ignore_changes keeps the first
# value for the life of the stack. Rotate with
# `terraform apply -replace=terraform_data.origin_secret` (CloudFront takes a few minutes to
# deploy the new header, during which API calls get 403). It sits in the state, the function's
# environment and the distribution's config, all readable only by the account's own principals.
resource "terraform_data" "origin_secret" {
  input = replace("${uuid()}${uuid()}", "-", "")

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  origin_secret = sensitive(terraform_data.origin_secret.output)
}

resource "aws_apigatewayv2_api" "this" {
  name          = "${local.name}-api"
  description   = "thumbforge API (presign function)"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "presign" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = module.presign.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, (var.presign_timeout_seconds + 1) * 1000)
}

# Routes of a signed-in user (authorization_type JWT in the route table) run the JWT authorizer
# (auth.tf) first and need one of auth.route_scopes; the others (GET /api/config, which tells the
# page how to sign in) are open.
resource "aws_apigatewayv2_route" "presign" {
  # checkov:skip=CKV_AWS_309: GET /api/config is public by design (the page reads how to sign in before it can); every other route has the JWT authorizer (authorization_type comes from crates/core/src/routes.rs, which checkov cannot read).
  for_each = var.api_routes

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.presign.id}"

  authorization_type   = each.value.authorization_type
  authorizer_id        = each.value.authorization_type == "JWT" ? aws_apigatewayv2_authorizer.jwt.id : null
  authorization_scopes = each.value.authorization_type == "JWT" && length(var.auth.route_scopes) > 0 ? var.auth.route_scopes : null
}

resource "aws_cloudwatch_log_group" "api" {
  # checkov:skip=CKV_AWS_338: Retention is `logs.retention_days` of thumbforge.toml (14 days by default); raise it there where a year is required.
  # checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts at rest by default; a customer key adds cost and a key policy for no stated need.
  name              = "/aws/apigateway/${local.name}-api"
  retention_in_days = var.log_retention_days
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true
  # Route settings name routes: they must exist first.
  depends_on = [aws_apigatewayv2_route.presign]

  default_route_settings {
    throttling_rate_limit  = var.api_throttling_rate_limit
    throttling_burst_limit = var.api_throttling_burst_limit
  }

  # Each route's own throttle ([api] of thumbforge.toml): uploads much stricter than reads.
  dynamic "route_settings" {
    for_each = var.api_routes
    content {
      route_key              = route_settings.key
      throttling_rate_limit  = route_settings.value.throttling_rate_limit
      throttling_burst_limit = route_settings.value.throttling_burst_limit
    }
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      time             = "$context.requestTime"
      ip               = "$context.identity.sourceIp"
      method           = "$context.httpMethod"
      path             = "$context.path"
      routeKey         = "$context.routeKey"
      status           = "$context.status"
      bytes            = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationMs    = "$context.integration.latency"
      integrationError = "$context.integrationErrorMessage"
      userAgent        = "$context.identity.userAgent"
      # The signed-in user (the token's sub): the API function's log names the image id it
      # issued under the same requestId.
      user = "$context.authorizer.claims.sub"
    })
  }
}

# API Gateway may invoke the presign function, from this API's routes only.
resource "aws_lambda_permission" "api_invokes_presign" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.presign.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
