"""Operations phase: deployment, CI/CD, monitoring."""
