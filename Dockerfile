# The bot service (app environment only; Rasa runs from its official image).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY data ./data
COPY intents ./intents
# Editable, so data/ and intents/ stay beside the package where Settings looks for them.
RUN pip install --no-cache-dir -e .
ENV OUTAGE_BOT_HOST=0.0.0.0
EXPOSE 8080
CMD ["outage-bot", "serve"]
