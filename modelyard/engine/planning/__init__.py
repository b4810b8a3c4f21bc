"""Planning: from a Profile to a Plan, by rules or by a local LLM."""
