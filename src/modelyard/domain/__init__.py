"""The domain: entities, rules and the search grammar. Standard library only."""
