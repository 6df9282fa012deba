// The identity provider sends the sign-in window here: hand the code (or the error) to the
// console that opened the window, on this origin only, then close. Nothing is stored.
(function () {
  const params = new URLSearchParams(window.location.search);
  const message = {
    type: "directory-oidc",
    code: params.get("code"),
    state: params.get("state"),
    error: params.get("error"),
  };
  history.replaceState(null, "", window.location.pathname);
  if (window.opener) {
    window.opener.postMessage(message, window.location.origin);
    window.close();
  }
})();
