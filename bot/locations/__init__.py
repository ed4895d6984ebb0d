"""Where a customer is: free text, numbers and shared positions to a UK area code.

Owns the locator (``locator``), the typo-tolerant town search (``place_names``), the
area-code reference table in the database (``areas``) and nearest-town lookup for a
shared position (``nearest_town``). Pure and fast: Rasa's NLU imports the locator too,
so it may import nothing of ours beyond ``bot.models`` (and only ``areas`` does).
"""
