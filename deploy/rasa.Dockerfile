# Rasa for the compose deployment: the official image plus what our NLU imports
# (intents/location_entities.py runs bot.locations.locator on the reference data in data/).
FROM rasa/rasa:3.6.21-full
USER root
COPY pyproject.toml README.md /opt/outage-bot/
COPY bot /opt/outage-bot/bot
COPY data /opt/outage-bot/data
RUN pip install --no-cache-dir phonenumbers==9.0.43 \
    && pip install --no-cache-dir --no-deps -e /opt/outage-bot
USER 1001
# Our launcher: plain Rasa plus the speed fixes described in intents/run_rasa.py.
ENTRYPOINT ["python", "/app/run_rasa.py"]
