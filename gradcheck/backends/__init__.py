"""The built-in backends, registered with the plugin manager like third-party ones."""
