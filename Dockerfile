# The bot service (app environment only; Rasa runs from its official image).
FROM python:3.11-slim
WORKDIR /app
# Exactly the versions (and files, by hash) in requirements.lock, as `make install` does;
# first, so this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY data ./data
COPY intents ./intents
# Our package alone, its dependencies being the locked ones above. Editable, so data/ and
# intents/ stay beside the package where Settings looks for them.
RUN pip install --no-cache-dir --no-deps -e .
ENV OUTAGE_BOT_HOST=0.0.0.0
EXPOSE 8080
CMD ["outage-bot", "serve"]
