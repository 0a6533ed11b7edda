"""Lesson: attention between the words of a sentence (self-attention step by step, then a real encoder)."""
