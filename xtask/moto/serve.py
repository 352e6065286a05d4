"""moto_server with three fixes to what its CloudFront emulation returns.

`cargo xtask moto` applies the real Terraform stack through the real AWS provider to moto, then
requires `terraform plan` to show no changes. moto 5.2.5 answers GetDistribution with values it was
never sent, which the provider reads back as drift; real CloudFront returns none of them:

1. each origin's OriginAccessControlId is dropped (so every origin looks replaced);
2. a ForwardedValues block is added to every cache behaviour that uses a cache policy instead;
3. SSLSupportMethod "sni-only" is added to the default-certificate viewer configuration.

Everything else is moto as released (pinned in xtask/src/tools.rs). Usage: python serve.py
-H 127.0.0.1 -p PORT (the moto_server arguments).
"""

import sys

from moto.cloudfront import models as cloudfront

_origin_init = cloudfront.Origin.__init__


def _origin_keeps_its_access_control(self, origin):
    _origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


_behaviour_init = cloudfront.DefaultCacheBehaviour.__init__


def _behaviour_keeps_no_forwarded_values(self, config):
    _behaviour_init(self, config)
    if "ForwardedValues" not in config:
        self.forwarded_values = None


_certificate_init = cloudfront.ViewerCertificate.__init__


def _default_certificate_has_no_ssl_method(self, config):
    _certificate_init(self, config)
    if self.cloud_front_default_certificate and not config.get("SSLSupportMethod"):
        self.ssl_support_method = None


cloudfront.Origin.__init__ = _origin_keeps_its_access_control
cloudfront.DefaultCacheBehaviour.__init__ = _behaviour_keeps_no_forwarded_values
cloudfront.ViewerCertificate.__init__ = _default_certificate_has_no_ssl_method

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main())
