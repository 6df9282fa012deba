#!/usr/bin/env bash
# Resolve mock-oauth2-server, a real OpenID Connect provider (authorization code + PKCE,
# discovery, JWKS; from Maven Central), once into .tools/oidc/ and print its Java
# classpath. The console's browser tests start it (tests/oidc_provider.py). Needs Java 17
# and Maven (Debian: default-jre-headless, maven; scripts/ensure-test-tools.sh installs them).
set -euo pipefail
VERSION=3.0.1
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.tools/oidc"
lib="$dir/lib-$VERSION"
if [ ! -s "$dir/classpath-$VERSION.txt" ]; then
  command -v mvn >/dev/null || { echo "oidc-provider: mvn is missing (Debian: apt-get install maven)" >&2; exit 3; }
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.directory-svc</groupId><artifactId>oidc-provider</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>no.nav.security</groupId><artifactId>mock-oauth2-server</artifactId><version>$VERSION</version></dependency>
  </dependencies>
</project>
EOF
  echo "oidc-provider: fetching mock-oauth2-server $VERSION from Maven Central" >&2
  mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
  ls "$lib"/*.jar | tr '\n' ':' | sed 's/:$//' > "$dir/classpath-$VERSION.txt.tmp"
  mv "$dir/classpath-$VERSION.txt.tmp" "$dir/classpath-$VERSION.txt"
fi
cat "$dir/classpath-$VERSION.txt"
