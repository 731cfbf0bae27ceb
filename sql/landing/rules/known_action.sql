-- An action outside the contract's list ($actions).
NOT list_contains($actions, {column})
