# observability.tf and waf.tf under a mocked AWS provider: the alarms and their thresholds, the
# topic they mail, the dashboard, the optional budget, CloudFront's access logs, the optional WAF
# and X-Ray, and the validation of [alarms] and [edge].

mock_provider "aws" {
  source = "./tests/mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/mocks"
}

run "every_alarm_mails_the_topic_with_thresholds_from_the_config" {
  command = apply

  variables {
    thumbnail_timeout_seconds = 30
    presign_timeout_seconds   = 10
    alarms = {
      emails                    = ["ops@example.com", "oncall@example.org"]
      monthly_budget_usd        = 0
      time_to_ready_p95_seconds = 45
      api_5xx_percent           = 3
      xray                      = false
    }
  }

  assert {
    condition     = toset([for s in aws_sns_topic_subscription.alarm_email : s.endpoint]) == toset(["ops@example.com", "oncall@example.org"])
    error_message = "each address of alarms.emails is subscribed"
  }
  assert {
    condition     = alltrue([for s in aws_sns_topic_subscription.alarm_email : s.protocol == "email" && s.topic_arn == aws_sns_topic.alarms.arn])
    error_message = "the subscriptions are email ones on the alarm topic"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["presign-errors"].dimensions.FunctionName == module.presign.function_name && aws_cloudwatch_metric_alarm.metric["thumbnail-errors"].dimensions.FunctionName == module.thumbnail.function_name
    error_message = "both functions have an errors alarm on their own name"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-errors"].metric_name == "Errors" && aws_cloudwatch_metric_alarm.metric["thumbnail-errors"].threshold == 0
    error_message = "any thumbnail error alarms"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-duration-p95"].threshold == 24000 && aws_cloudwatch_metric_alarm.metric["presign-duration-p95"].threshold == 8000
    error_message = "the duration alarms sit at 80 % of each function's timeout (ms)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-duration-p95"].extended_statistic == "p95"
    error_message = "the duration alarm watches p95"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-throttles"].metric_name == "Throttles"
    error_message = "throttles alarm"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-dlq-not-empty"].dimensions.QueueName == aws_sqs_queue.thumbnail_dlq.name && aws_cloudwatch_metric_alarm.metric["cleanup-dlq-not-empty"].dimensions.QueueName == aws_sqs_queue.cleanup_dlq.name
    error_message = "each dead-letter queue has its not-empty alarm"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.api_5xx.threshold == 3 && length(aws_cloudwatch_metric_alarm.api_5xx.metric_query) == 3
    error_message = "the 5xx alarm is a percentage from alarms.api_5xx_percent"
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.api_5xx.metric_query : q.return_data if q.id == "rate"]) == true
    error_message = "the 5xx alarm fires on the rate, not the count"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["time-to-ready-p95"].threshold == 45000 && aws_cloudwatch_metric_alarm.metric["time-to-ready-p95"].namespace == "thumbforge" && aws_cloudwatch_metric_alarm.metric["time-to-ready-p95"].metric_name == "TimeToReadyMs"
    error_message = "time to ready alarms on the EMF metric at alarms.time_to_ready_p95_seconds (ms)"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["time-to-ready-p95"].dimensions["Function"] == "thumbnail" && aws_cloudwatch_metric_alarm.metric["time-to-ready-p95"].dimensions["Outcome"] == "ready" && length(aws_cloudwatch_metric_alarm.metric["time-to-ready-p95"].dimensions) == 2
    error_message = "time to ready uses the dimensions the thumbnail function emits"
  }
  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.metric), [aws_cloudwatch_metric_alarm.api_5xx]) : a.alarm_actions == toset([aws_sns_topic.alarms.arn]) && a.ok_actions == toset([aws_sns_topic.alarms.arn]) && a.treat_missing_data == "notBreaching"])
    error_message = "every alarm (and its recovery) goes to the topic; no data is not an alarm"
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.metric)) == toset(["presign-errors", "thumbnail-errors", "presign-throttles", "thumbnail-throttles", "presign-duration-p95", "thumbnail-duration-p95", "thumbnail-dlq-not-empty", "cleanup-dlq-not-empty", "time-to-ready-p95"])
    error_message = "the alarms README \"Operating it\" lists"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-throttles"].evaluation_periods == 3 && aws_cloudwatch_metric_alarm.metric["thumbnail-throttles"].datapoints_to_alarm == 3
    error_message = "throttling alarms when it lasts 15 minutes, not at one refused invocation"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.metric["thumbnail-duration-p95"].statistic == null && aws_cloudwatch_metric_alarm.metric["thumbnail-errors"].extended_statistic == null
    error_message = "an alarm has either a statistic or a percentile"
  }
  assert {
    condition     = length(local.alarm_arns) == 10
    error_message = "ten alarms: errors, throttles, duration for two functions, two queues, 5xx, time to ready"
  }
  assert {
    condition     = length(aws_budgets_budget.monthly) == 0
    error_message = "no budget unless alarms.monthly_budget_usd is set"
  }
}

run "the_dashboard_shows_the_alarms_and_the_figures" {
  command = apply

  assert {
    condition     = aws_cloudwatch_dashboard.this.dashboard_name == "thumbforge-test"
    error_message = "one dashboard named after the stack"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[0].properties.alarms == local.alarm_arns
    error_message = "the first widget shows every alarm"
  }
  assert {
    condition = toset([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : w.properties.title]) == toset([
      "Alarms",
      "Images by outcome (and rejection reason)",
      "Time from upload to ready (ms)",
      "Thumbnail stages, p95 (ms)",
      "Uploads started and refused by a quota",
      "Functions: errors, throttles, p95 duration (ms, right)",
      "API: requests, 4xx, 5xx; p95 latency (ms, right)",
      "Dead-letter queues (messages waiting)",
    ])
    error_message = "the dashboard has the alarm figures, the outcomes, the stages, the quotas, the API and the queues"
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[3].properties.metrics) == 5
    error_message = "every thumbnail stage has its line"
  }
  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "\"TimeToReadyMs\"") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "QuotaRefusals")
    error_message = "the EMF metric names come from var.metrics"
  }
}

run "a_budget_mails_the_same_people" {
  command = apply

  variables {
    alarms = {
      emails                    = ["ops@example.com"]
      monthly_budget_usd        = 25
      time_to_ready_p95_seconds = 60
      api_5xx_percent           = 5
      xray                      = false
    }
  }

  assert {
    condition     = aws_budgets_budget.monthly[0].limit_amount == "25.00" && aws_budgets_budget.monthly[0].limit_unit == "USD" && aws_budgets_budget.monthly[0].time_unit == "MONTHLY"
    error_message = "a monthly budget of alarms.monthly_budget_usd"
  }
  assert {
    condition     = toset([for n in aws_budgets_budget.monthly[0].notification : "${n.notification_type}:${n.threshold}"]) == toset(["FORECASTED:80", "ACTUAL:100"])
    error_message = "alerts at 80 % forecast and 100 % actual"
  }
  assert {
    condition     = alltrue([for n in aws_budgets_budget.monthly[0].notification : n.subscriber_email_addresses == toset(["ops@example.com"])])
    error_message = "the budget mails alarms.emails"
  }
}

run "a_budget_without_anyone_to_tell_is_refused" {
  command = plan

  variables {
    alarms = {
      emails                    = []
      monthly_budget_usd        = 25
      time_to_ready_p95_seconds = 60
      api_5xx_percent           = 5
      xray                      = false
    }
  }

  expect_failures = [var.alarms]
}

run "alarm_addresses_must_be_addresses" {
  command = plan

  variables {
    alarms = {
      emails                    = ["ops at example.com"]
      monthly_budget_usd        = 0
      time_to_ready_p95_seconds = 60
      api_5xx_percent           = 5
      xray                      = false
    }
  }

  expect_failures = [var.alarms]
}

run "a_budget_above_a_million_is_refused" {
  command = plan

  variables {
    alarms = {
      emails                    = ["ops@example.com"]
      monthly_budget_usd        = 1000001
      time_to_ready_p95_seconds = 60
      api_5xx_percent           = 5
      xray                      = false
    }
  }

  expect_failures = [var.alarms]
}

run "time_to_ready_must_be_a_second_to_an_hour" {
  command = plan

  variables {
    alarms = {
      emails                    = ["ops@example.com"]
      monthly_budget_usd        = 0
      time_to_ready_p95_seconds = 0
      api_5xx_percent           = 5
      xray                      = false
    }
  }

  expect_failures = [var.alarms]
}

run "the_5xx_threshold_is_a_percentage" {
  command = plan

  variables {
    alarms = {
      emails                    = ["ops@example.com"]
      monthly_budget_usd        = 0
      time_to_ready_p95_seconds = 60
      api_5xx_percent           = 101
      xray                      = false
    }
  }

  expect_failures = [var.alarms]
}

run "cloudfront_access_logs_go_to_us_east_1_with_the_retention" {
  command = apply

  assert {
    condition     = aws_cloudwatch_log_group.cdn[0].retention_in_days == var.log_retention_days
    error_message = "the access logs are kept like the functions' logs"
  }
  assert {
    condition     = aws_cloudwatch_log_delivery_source.cdn[0].resource_arn == aws_cloudfront_distribution.this.arn && aws_cloudwatch_log_delivery_source.cdn[0].log_type == "ACCESS_LOGS"
    error_message = "the delivery source is the distribution's access logs"
  }
  assert {
    condition     = aws_cloudwatch_log_delivery_destination.cdn[0].delivery_destination_configuration[0].destination_resource_arn == aws_cloudwatch_log_group.cdn[0].arn
    error_message = "delivered to the log group"
  }
  assert {
    condition     = aws_cloudwatch_log_delivery.cdn[0].delivery_destination_arn == aws_cloudwatch_log_delivery_destination.cdn[0].arn
    error_message = "the delivery joins source and destination"
  }
  assert {
    condition     = strcontains(aws_apigatewayv2_stage.default.access_log_settings[0].format, "$context.identity.sourceIp") && strcontains(aws_apigatewayv2_stage.default.access_log_settings[0].format, "$context.authorizer.claims.sub") && strcontains(aws_apigatewayv2_stage.default.access_log_settings[0].format, "$context.requestId")
    error_message = "the API's access log names the source IP, the user and the request id (joined with the function's line naming the image id)"
  }
}

run "access_logs_can_be_turned_off" {
  command = plan

  variables {
    edge = {
      access_logs                    = false
      waf                            = false
      waf_api_requests_per_5_minutes = 1000
    }
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.cdn) == 0 && length(aws_cloudwatch_log_delivery.cdn) == 0 && length(aws_cloudwatch_log_delivery_source.cdn) == 0
    error_message = "edge.access_logs = false makes no log delivery"
  }
}

run "no_waf_by_default" {
  command = apply

  assert {
    condition     = length(aws_wafv2_web_acl.edge) == 0 && aws_cloudfront_distribution.this.web_acl_id == null
    error_message = "edge.waf is off by default: no web ACL, none on the distribution"
  }
}

run "the_waf_rate_limits_the_api_per_ip_and_runs_the_managed_rules" {
  command = apply

  variables {
    edge = {
      access_logs                    = true
      waf                            = true
      waf_api_requests_per_5_minutes = 300
    }
  }

  assert {
    condition     = aws_wafv2_web_acl.edge[0].scope == "CLOUDFRONT" && aws_cloudfront_distribution.this.web_acl_id == aws_wafv2_web_acl.edge[0].arn
    error_message = "a CloudFront-scope web ACL on the distribution"
  }
  assert {
    condition     = one([for r in aws_wafv2_web_acl.edge[0].rule : r.statement[0].rate_based_statement[0].limit if r.name == "api-rate-per-ip"]) == 300
    error_message = "the rate rule's limit is edge.waf_api_requests_per_5_minutes"
  }
  assert {
    condition     = one([for r in aws_wafv2_web_acl.edge[0].rule : r.statement[0].rate_based_statement[0].aggregate_key_type if r.name == "api-rate-per-ip"]) == "IP"
    error_message = "rate limited per client IP"
  }
  assert {
    condition     = one([for r in aws_wafv2_web_acl.edge[0].rule : r.statement[0].rate_based_statement[0].scope_down_statement[0].byte_match_statement[0].search_string if r.name == "api-rate-per-ip"]) == "/api/"
    error_message = "the rate rule covers /api/* only (thumbnails are cached, not limited)"
  }
  assert {
    condition     = one([for r in aws_wafv2_web_acl.edge[0].rule : length(r.action[0].block) if r.name == "api-rate-per-ip"]) == 1
    error_message = "over the rate, requests are blocked"
  }
  assert {
    condition     = contains([for r in aws_wafv2_web_acl.edge[0].rule : r.statement[0].managed_rule_group_statement[0].name if length(r.statement[0].managed_rule_group_statement) > 0], "AWSManagedRulesCommonRuleSet")
    error_message = "the AWS managed common rule set runs"
  }
  assert {
    condition     = aws_wafv2_web_acl.edge[0].default_action[0].allow != null
    error_message = "what no rule blocks is allowed"
  }
}

run "the_waf_rate_is_validated" {
  command = plan

  variables {
    edge = {
      access_logs                    = true
      waf                            = true
      waf_api_requests_per_5_minutes = 99
    }
  }

  expect_failures = [var.edge]
}

run "xray_is_opt_in" {
  command = apply

  assert {
    condition     = module.thumbnail.tracing_mode == "PassThrough" && module.presign.tracing_mode == "PassThrough"
    error_message = "no X-Ray tracing by default"
  }
  assert {
    condition     = !contains([for s in module.thumbnail.policy_statements : s.Sid], "XRayTraces")
    error_message = "no X-Ray permission without tracing"
  }
}

run "xray_traces_both_functions_when_asked" {
  command = apply

  variables {
    alarms = {
      emails                    = []
      monthly_budget_usd        = 0
      time_to_ready_p95_seconds = 60
      api_5xx_percent           = 5
      xray                      = true
    }
  }

  assert {
    condition     = module.thumbnail.tracing_mode == "Active" && module.presign.tracing_mode == "Active"
    error_message = "alarms.xray = true traces both functions"
  }
  assert {
    condition     = alltrue([for m in [module.thumbnail, module.presign] : contains([for s in m.policy_statements : s.Sid], "XRayTraces")])
    error_message = "both roles may write traces"
  }
}

run "every_metric_name_is_set" {
  command = plan

  variables {
    metrics = {
      namespace        = "thumbforge"
      function         = "Function"
      outcome          = "Outcome"
      reason           = "Reason"
      ready            = "ready"
      images           = "Images"
      time_to_ready_ms = ""
      download_ms      = "DownloadMs"
      decode_ms        = "DecodeMs"
      resize_ms        = "ResizeMs"
      encode_ms        = "EncodeMs"
      upload_ms        = "UploadMs"
      bytes_in         = "BytesIn"
      bytes_out        = "BytesOut"
      uploads_started  = "UploadsStarted"
      quota_refusals   = "QuotaRefusals"
    }
  }

  expect_failures = [var.metrics]
}
