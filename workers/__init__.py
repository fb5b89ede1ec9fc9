"""Task handlers by topic, engine-agnostic and idempotent, and the loop that runs them."""
