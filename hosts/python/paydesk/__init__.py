"""paydesk for Python helpdesks: the paydesk Stripe plugin component, hosted with wasmtime's Python
package. `Paydesk` is the whole API; every plugin call runs in a fresh sandbox for the tenant named.
"""

from .app import DEFAULT_STRIPE_API_BASE, Paydesk, PluginError
from .context import HttpLimits
from .runtime import Limits, SandboxError
from .settings import Secret
from .webhooks import SignatureError

__all__ = ["DEFAULT_STRIPE_API_BASE", "HttpLimits", "Limits", "Paydesk", "PluginError", "SandboxError",
           "Secret", "SignatureError"]
