"""The Operations phase's step views: deployment, CI/CD, monitoring."""
