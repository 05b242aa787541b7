"""Staged rollouts: an image offered wave by wave, judged by what the appliance itself observed.

Import the parts from their modules (`services.domain.rollouts.engine.RolloutEngine`, ...): this package is kept
empty so that the registry can import its values without importing the engine.
"""
