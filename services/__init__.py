"""What the appliance does: the registry, firmware, fleet rules and the APIs that expose them."""
