# meterbill API / worker image.
#   docker build -t meterbill .
#   docker run -p 8000:8000 meterbill                      (embedded: SQLite + in-process worker)
#   docker run meterbill meterbill worker                  (needs MB_DATABASE_URL and MB_REDIS_URL)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Build from a throw-away copy of the source; only the installed package stays in the image.
# Every dependency at the version in constraints.txt (reproducible images).
COPY pyproject.toml README.md constraints.txt /tmp/meterbill-src/
COPY src /tmp/meterbill-src/src
RUN pip install -c /tmp/meterbill-src/constraints.txt /tmp/meterbill-src \
    && rm -rf /tmp/meterbill-src

# Non-root user. The embedded database (MB_DATA_DIR/meterbill.db) lives in a declared
# volume: `docker run -v meterbill-data:/var/lib/meterbill/data ...` keeps it, and without
# -v Docker still keeps it in an anonymous volume instead of the container's layer.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/meterbill \
        --shell /usr/sbin/nologin meterbill \
    && install -d -o meterbill -g meterbill /var/lib/meterbill/data
ENV MB_DATA_DIR=/var/lib/meterbill/data
VOLUME ["/var/lib/meterbill/data"]
USER meterbill
WORKDIR /var/lib/meterbill

EXPOSE 8000
CMD ["meterbill", "serve", "--host", "0.0.0.0", "--port", "8000"]
