"""What agents are told: the skill warehouse, the tool guides, the context service."""
