import { render } from 'preact'
import { App } from './app.js'
import { connect } from './session.js'
import './style.css'

render(
  <App session={connect(window.location, window.history, window.sessionStorage)} />,
  document.getElementById('app')!,
)
