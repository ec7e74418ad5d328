"""The broken-component zoo: deliberately broken processor components (see README.md)."""
