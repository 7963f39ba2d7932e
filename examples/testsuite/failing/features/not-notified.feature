# Fails on purpose: the mail service is only notified when a book is overdue.
Feature: Failing on purpose: a service that is not notified

  Scenario: Expecting a mail too early
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    When "Mia" does "request" with:
      | name | Mia    |
      | card | L-0042 |
      | book | Dune   |
    Then service "mail" is notified
