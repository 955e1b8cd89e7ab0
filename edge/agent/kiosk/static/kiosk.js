// The on-screen PIN keypad: digits, clear and delete into the PIN field (no other script).
document.addEventListener("click", function (event) {
  var button = event.target.closest(".keypad button[data-key]");
  if (!button) return;
  var field = document.getElementById(button.parentElement.dataset.target);
  var key = button.dataset.key;
  if (key === "clear") field.value = "";
  else if (key === "delete") field.value = field.value.slice(0, -1);
  else if (field.value.length < 12) field.value += key;
});
