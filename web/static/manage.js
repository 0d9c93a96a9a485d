// Manager console: ask before a form that cannot be undone (data-confirm="question").
// Without JavaScript the form still works; the server is the last word either way.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
