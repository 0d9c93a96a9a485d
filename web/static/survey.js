/* KeyPulse survey page: show each "why" block only once a dissatisfied score is
   chosen, count the answered questions into the progress bar, and take away a
   question's error once it is answered. Without this script every "why" block stays
   visible and optional, the bar says how many questions there are, and each
   question's legend says "Question 3 of 8". */
(function () {
  "use strict";

  var form = document.querySelector("form[data-survey]");
  if (!form) {
    return;
  }
  var dissatisfiedMax = parseInt(form.getAttribute("data-dissatisfied-max"), 10) || 2;

  var aspects = form.querySelectorAll("[data-aspect]");

  // The sticky progress bar: how many questions have an answer, out of all of them.
  var progress = form.querySelector("[data-progress]");
  var fill = progress ? progress.querySelector("[data-progress-fill]") : null;
  var text = progress ? progress.querySelector("[data-progress-text]") : null;

  function countAnswered() {
    if (!progress) {
      return;
    }
    var answered = 0;
    Array.prototype.forEach.call(aspects, function (aspect) {
      if (aspect.querySelector('input[type="radio"]:checked')) {
        answered += 1;
      }
    });
    var total = aspects.length || 1;
    progress.setAttribute("data-answered", String(answered));
    fill.style.transform = "scaleX(" + answered / total + ")";
    text.textContent = text.getAttribute("data-template").replace("{answered}", String(answered));
  }

  // An answered question no longer shows the error it had when the form came back:
  // its message, aria-invalid and the summary's link to it go.
  function clearScoreError(aspect, radio) {
    var fieldId = radio.name;
    var message = document.getElementById(fieldId + "-error");
    if (!message) {
      return; // the page shows no error for this question (aria-invalid comes with one)
    }
    message.parentNode.removeChild(message);
    Array.prototype.forEach.call(aspect.querySelectorAll('input[name="' + fieldId + '"]'), function (input) {
      input.removeAttribute("aria-invalid");
      var described = (input.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter(function (id) {
          return id && id !== fieldId + "-error";
        });
      if (described.length) {
        input.setAttribute("aria-describedby", described.join(" "));
      } else {
        input.removeAttribute("aria-describedby");
      }
    });
    var summary = document.getElementById("error-summary");
    var link = summary ? summary.querySelector('a[href="#' + fieldId + '-0"]') : null;
    if (link) {
      var item = link.closest ? link.closest("li") : link.parentNode;
      item.parentNode.removeChild(item);
      if (!summary.querySelector("li")) {
        summary.hidden = true; // nothing left to check
      }
    }
  }

  Array.prototype.forEach.call(aspects, function (aspect) {
    Array.prototype.forEach.call(aspect.querySelectorAll('input[type="radio"]'), function (radio) {
      radio.addEventListener("change", function () {
        clearScoreError(aspect, radio);
        countAnswered();
      });
    });
  });
  countAnswered();

  Array.prototype.forEach.call(aspects, function (aspect) {
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
