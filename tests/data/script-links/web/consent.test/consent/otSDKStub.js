setTimeout(function(){if(window.OptanonWrapper)OptanonWrapper()},10);
