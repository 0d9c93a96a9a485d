/* KeyPulse survey page: show each "why" block only once a dissatisfied score is
   chosen. Without this script every "why" block stays visible and optional. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-survey]");
  if (!form) {
    return;
  }
  var dissatisfiedMax = parseInt(form.getAttribute("data-dissatisfied-max"), 10) || 2;

  Array.prototype.forEach.call(form.querySelectorAll("[data-aspect]"), function (aspect) {
    var why = aspect.querySelector("[data-why]");
    if (!why) {
      return;
    }
    var radios = aspect.querySelectorAll('input[type="radio"]');

    function update() {
      var checked = aspect.querySelector('input[type="radio"]:checked');
      var dissatisfied = checked !== null && parseInt(checked.value, 10) <= dissatisfiedMax;
      // Never hide a block that holds an error message the visitor has to read.
      var hasError = why.querySelector(".field-error") !== null;
      why.hidden = !(dissatisfied || hasError);
    }

    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  });

  // After a failed submission, take keyboard and screen-reader users to the summary.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    // A summary link moves focus to the input itself, not just the scroll position.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest('a[href^="#"]') : null;
      var target = link ? document.getElementById(link.getAttribute("href").slice(1)) : null;
      if (target) {
        event.preventDefault();
        target.focus();
        target.scrollIntoView({ block: "center" });
      }
    });
  }
})();
