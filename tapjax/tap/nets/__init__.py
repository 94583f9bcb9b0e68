"""The networks: tracker, guided hybrid attention, parser (Eqs. 3-28), WAP, language model, losses."""
