"""Held-out metrics, counted per example: classification, language-model loss, preference pairs, generated
answers and a judge's scores. Imports nothing from the layers that run training."""
