# saturation-scaler container image.
#
# The build stage runs test/build.sh, the same install-and-build script
# ./test/run.sh uses, so CI exercises every step but the image assembly.
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN SAT_DEPS=build ./test/build.sh /src/build -DCMAKE_BUILD_TYPE=Release -DSAT_BUILD_TESTS=OFF \
 && strip /src/build/saturation-scaler

FROM debian:bookworm-slim
# Runtime libraries only.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc29 libprotobuf-c1 libcurl4 libcjson1 libmicrohttpd12 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin scaler
COPY --from=build /src/build/saturation-scaler /usr/local/bin/saturation-scaler
USER 10001:10001
EXPOSE 6000 8080
ENTRYPOINT ["/usr/local/bin/saturation-scaler", "serve"]
