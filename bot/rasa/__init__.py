"""Our side of the boundary with Rasa, which owns understanding and dialogue.

Owns the REST client and which Rasa process holds a conversation (``brain``), the NLG
endpoint answered from comms-edited templates (``nlg``), training and running Rasa as
children (``process``) and the custom actions Rasa calls back (``actions``). Rasa itself
lives in ``intents/`` and its own environment; everything here reaches it over HTTP.
"""
