// Manager console: ask before a form that cannot be undone (data-confirm="question").
// Without JavaScript the form still works; the server is the last word either way.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Follow-up case page: the root cause fields matter only when resolving, so they are
// shown when "Resolved" is chosen (without JavaScript they are always there).
const followUpStatus = document.querySelector("form select#status");
const rootCause = document.querySelector("fieldset.root-cause[data-toggle]");
if (followUpStatus && rootCause) {
  const sync = () => { rootCause.hidden = followUpStatus.value !== "resolved"; };
  followUpStatus.addEventListener("change", sync);
  sync();
}
